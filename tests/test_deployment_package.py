"""The deployment package (.funcignore) holds only what runs in Azure: the app, its host file and shared/."""

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def tracked_files(*options: str) -> set[str]:
    listed = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "ls-files", "--cached", *options],  # noqa: S607 - git from PATH, as every developer runs it
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.splitlines())


def test_only_the_function_app_host_file_requirements_and_shared_are_deployed():
    deployed = tracked_files() - tracked_files("--ignored", "--exclude-from=.funcignore")

    assert {"function_app.py", "host.json", "requirements.txt", "shared/checker.py"} <= deployed
    outside = sorted(path for path in deployed if path not in {"function_app.py", "host.json", "requirements.txt"})
    assert [path for path in outside if not path.startswith("shared/")] == []


def test_the_write_capable_fix_command_is_not_deployed():
    deployed = tracked_files() - tracked_files("--ignored", "--exclude-from=.funcignore")

    assert any(path.startswith("shared/remediation/") for path in tracked_files())
    assert not any(path.startswith("shared/remediation/") for path in deployed)


def test_local_settings_never_reach_git_or_the_package():
    for ignore_file in (".gitignore", ".funcignore"):
        patterns = (REPOSITORY / ignore_file).read_text(encoding="utf-8").split()
        assert "local.settings.json" in patterns
        assert any(pattern.rstrip("/") == ".azure" for pattern in patterns)
