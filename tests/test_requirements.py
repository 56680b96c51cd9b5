"""requirements.txt: what the Functions build installs, pinned to the tested environment, the one runtime source.

A redeploy next year must build the app that was tested: every runtime package, transitive ones
included, is pinned to the version installed here (.ci/pin_requirements.py writes the file from this
environment), constraints.txt agrees, and the Direct list is exactly what the deployed code imports.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
# Packages of this repository, not of PyPI.
LOCAL_PACKAGES = {"shared", "emulator", "function_app"}


def pin_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_requirements", ROOT / ".ci" / "pin_requirements.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def deployed_modules() -> set[str]:
    """Every absolute import in the code the Functions package carries (function_app.py and shared/)."""
    files = [ROOT / "function_app.py", *(ROOT / "shared").rglob("*.py")]
    names: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] not in sys.stdlib_module_names | LOCAL_PACKAGES}


def distribution_of(module: str, distributions: list[metadata.Distribution]) -> str:
    """The distribution whose files hold the module (namespace packages such as azure.* need the file)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    origin = Path(spec.origin).resolve()
    for distribution in distributions:
        for file in distribution.files or []:
            if Path(distribution.locate_file(file)).resolve() == origin:
                return canonicalize_name(distribution.metadata["Name"])
    raise AssertionError(f"no installed distribution holds {module} ({origin})")


def test_requirements_pin_every_runtime_package_at_the_tested_version() -> None:
    script = pin_script()
    direct, _ = script.parse(REQUIREMENTS.read_text(encoding="utf-8"))
    # What .ci/pin_requirements.py writes from this environment, byte for byte.
    assert REQUIREMENTS.read_text(encoding="utf-8") == script.render(direct)
    for name, version in pins(REQUIREMENTS).items():
        assert metadata.version(name) == version, name


def test_every_line_is_a_plain_pin_or_a_comment() -> None:
    # pip, the Functions build and pyproject.toml all read this file: no options, includes or ranges.
    lines = [line for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    odd = [
        line for line in lines if not line.startswith("#") and not re.fullmatch(r"[A-Za-z0-9][\w.-]*==[\w.+!-]+", line)
    ]
    assert odd == []
    assert len(pins(REQUIREMENTS)) == len([line for line in lines if not line.startswith("#")])


def test_constraints_pin_each_runtime_package_at_the_same_version() -> None:
    constraints = pins(ROOT / "constraints.txt")
    differ = {
        name: (version, constraints.get(name))
        for name, version in pins(REQUIREMENTS).items()
        if constraints.get(name) != version
    }
    assert differ == {}


def test_the_direct_list_is_exactly_what_the_deployed_code_imports() -> None:
    script = pin_script()
    direct, _ = script.parse(REQUIREMENTS.read_text(encoding="utf-8"))
    pinned = [metadata.distribution(name) for name in pins(REQUIREMENTS)]
    imported = {distribution_of(module, pinned) for module in deployed_modules()}
    assert imported == {canonicalize_name(name) for name in direct}


def test_the_pinned_set_is_closed_under_its_own_requirements_on_every_deployed_python() -> None:
    script = pin_script()
    pinned = pins(REQUIREMENTS)
    for name in pinned:
        for text in metadata.requires(name) or []:
            requirement = script.Requirement(text)
            if script._applies(requirement.marker, frozenset()):
                wanted = canonicalize_name(requirement.name)
                assert wanted in pinned, f"{name} needs {requirement}"
                assert requirement.specifier.contains(pinned[wanted], prereleases=True), f"{name} needs {requirement}"
    assert script.DEPLOYED_PYTHONS == ("3.11", "3.12")


def test_the_pin_script_refuses_options_and_reports_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = pin_script()
    with pytest.raises(script.PinError, match="not a plain name"):
        script.parse("# Direct: what the app imports.\n-r other.txt\n")
    stale = REQUIREMENTS.read_text(encoding="utf-8").replace("requests==", "requests==0.0.1\n# was ")
    copy = tmp_path / "requirements.txt"
    copy.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(script, "REQUIREMENTS", copy)
    assert script.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert copy.read_text(encoding="utf-8") == stale  # --check never writes
    assert script.main([]) == 0
    assert copy.read_text(encoding="utf-8") == REQUIREMENTS.read_text(encoding="utf-8")
