"""Pin requirements.txt to the tested environment: every runtime package, transitive ones included.

requirements.txt is what the Functions build installs (and the one source of the runtime
dependencies), so a rebuild next year must install exactly what was tested. Its "Direct" section
names what the app imports; this script rewrites the file with those packages and everything they
need (on Linux, for every Python version infra/main.bicep may deploy), each at the version installed
in the environment it runs in:

    .venv/bin/python .ci/pin_requirements.py          # rewrite requirements.txt (make pin-requirements)
    .venv/bin/python .ci/pin_requirements.py --check  # exit 1, with a diff, if it is out of date

To add or upgrade a runtime package: list it under "Direct" (a bare name is enough), install it into
the development environment (with constraints.txt updated to match), run this, and run the tests.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
# The Python versions the Functions app may run on (infra/main.bicep's pythonVersion), on Linux.
DEPLOYED_PYTHONS = ("3.11", "3.12")
DIRECT_HEADER = "# Direct: what the app imports."
TRANSITIVE_HEADER = "# Transitive: what the direct ones need (Linux, Python {pythons})."
HEADER = """\
# Runtime dependencies of the function app, every one pinned, transitive ones included, so a rebuild
# next year installs what was tested. The Functions build installs this file, and it is the one
# source of the runtime dependencies. Generated from the tested environment by
# .ci/pin_requirements.py (make pin-requirements): edit the Direct list, never the pins by hand.
# Plain name==version lines only (no options, -r or -c), read by other tools too.
"""
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*(\S+))?\s*$")


class PinError(Exception):
    """requirements.txt or the environment cannot give a complete pinned set."""


@dataclass(frozen=True)
class Pin:
    name: str  # as the distribution spells it
    version: str

    def line(self) -> str:
        return f"{self.name}=={self.version}"


def parse(text: str) -> tuple[list[str], dict[str, str]]:
    """The Direct section's names, and every name==version pin in the file (keyed by canonical name)."""
    direct: list[str] = []
    pins: dict[str, str] = {}
    section = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#") or not line:
            if line.startswith("# Direct"):
                section = "direct"
            elif line.startswith("# Transitive"):
                section = "transitive"
            continue
        match = _LINE.match(line)
        if match is None:
            raise PinError(f"requirements.txt line {number}: {raw!r} is not a plain name or name==version line")
        name, version = match.groups()
        if section == "direct":
            direct.append(name)
        if version:
            pins[canonicalize_name(name)] = version
    if not direct:
        raise PinError(f"requirements.txt has no packages under a {DIRECT_HEADER!r} line")
    return direct, pins


def _environments() -> list[dict[str, str]]:
    return [
        {
            "python_version": version,
            "python_full_version": f"{version}.0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "os_name": "posix",
            "platform_machine": "x86_64",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }
        for version in DEPLOYED_PYTHONS
    ]


def _applies(marker: Marker | None, extras: frozenset[str]) -> bool:
    if marker is None:
        return True
    return any(
        marker.evaluate({**environment, "extra": extra})
        for environment in _environments()
        for extra in (extras or {""})
    )


def _distribution(name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError as error:
        raise PinError(f"{name} is needed but not installed in {sys.prefix}; install it and run again") from error


def closure(direct: list[str]) -> list[Pin]:
    """The direct packages and all they need, at their installed versions, sorted by name."""
    found: dict[str, Pin] = {}
    pending: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in direct]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        distribution = _distribution(name)
        found[key[0]] = Pin(distribution.metadata["Name"], distribution.version)
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if _applies(requirement.marker, extras):
                needed = _distribution(requirement.name)
                if not requirement.specifier.contains(Version(needed.version), prereleases=True):
                    raise PinError(
                        f"{distribution.metadata['Name']} needs {requirement}, installed is {needed.version}"
                    )
                pending.append((requirement.name, frozenset(requirement.extras)))
    return sorted(found.values(), key=lambda pin: canonicalize_name(pin.name))


def render(direct: list[str]) -> str:
    pins = closure(direct)
    direct_names = {canonicalize_name(name) for name in direct}
    lines = [HEADER.rstrip("\n"), "", DIRECT_HEADER]
    lines += [pin.line() for pin in pins if canonicalize_name(pin.name) in direct_names]
    lines += ["", TRANSITIVE_HEADER.format(pythons=" and ".join(DEPLOYED_PYTHONS))]
    lines += [pin.line() for pin in pins if canonicalize_name(pin.name) not in direct_names]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether requirements.txt is up to date")
    options = parser.parse_args(argv)
    current = REQUIREMENTS.read_text(encoding="utf-8")
    try:
        direct, _ = parse(current)
        wanted = render(direct)
    except PinError as error:
        print(f"pin_requirements: {error}", file=sys.stderr)
        return 2
    if wanted == current:
        print("requirements.txt matches the tested environment")
        return 0
    if options.check:
        diff = difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "requirements.txt", "pinned")
        sys.stdout.writelines(diff)
        print("requirements.txt is out of date: run make pin-requirements", file=sys.stderr)
        return 1
    REQUIREMENTS.write_text(wanted, encoding="utf-8")
    print(f"requirements.txt: {len(wanted.splitlines())} lines written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
