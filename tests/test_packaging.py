"""The project builds as a wheel whose `defender-contacts` command works from any directory.

Built offline with the venv's own setuptools (no build isolation, no index), installed without
dependencies into a folder of its own; the shared venv provides the dependencies.
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "checkout"
    # Built from a copy so the build's egg-info and build/ folders never land in the working tree.
    ignore = shutil.ignore_patterns(
        ".venv", ".tools", "node_modules", ".git", "test-artifacts", "mutants", "__pycache__", "*.egg-info", "build"
    )
    shutil.copytree(REPOSITORY, source, ignore=ignore, symlinks=True)
    built = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("defender_contact_monitor-*.whl")
    return found


def test_the_wheel_holds_the_app_package_and_the_fix_command_but_no_tests_emulator_or_infra(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}

    assert "shared/cli.py" in names
    assert "shared/remediation/apply.py" in names
    assert top_level == {"shared", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}


def test_the_wheel_reads_its_dependencies_from_requirements_txt(wheel):
    metadata = zipfile.ZipFile(wheel).read(f"{'-'.join(wheel.name.split('-')[:2])}.dist-info/METADATA").decode()
    required = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    listed = [
        line.split("#", 1)[0].strip()
        for line in (REPOSITORY / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]

    assert [_canonical(r) for r in required] == [_canonical(r) for r in listed]


def _canonical(requirement: str) -> str:
    # Wheel metadata may spell a name with '-' where requirements.txt has '_' (PEP 503 names are equal).
    name, _, version = requirement.replace(" ", "").partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_the_console_script_answers_from_another_directory(wheel, tmp_path):
    target = tmp_path / "installed"
    subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target), wheel],
        capture_output=True,
        timeout=120,
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(target), "COLUMNS": "100"}
    command = target / "bin" / "defender-contacts"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the script the wheel installed
            [str(command), *args], cwd=elsewhere, env=environment, capture_output=True, text=True, timeout=60
        )

    helped = run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage: defender-contacts" in helped.stdout
    for command_name in ("check", "fix", "notify-test", "settings"):
        assert command_name in helped.stdout
    assert "demo" not in helped.stdout
    located = subprocess.run(
        [sys.executable, "-c", "import shared; print(shared.__file__)"],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert located.stdout.startswith(str(target))
    assert run("settings").returncode in (0, 1)
