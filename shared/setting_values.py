"""One app setting's text as a value; a bad value adds a readable problem (and yields the default)
instead of raising, so every loader can report all problems at once."""

from __future__ import annotations

import re

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def items(value: str) -> list[str]:
    """The entries of a list setting: separated by commas, semicolons or white space."""
    return [item for item in re.split(r"[,;\s]+", value) if item]


def flag(value: str, name: str, default: bool, problems: list[str]) -> bool:
    lowered = value.strip().lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    problems.append(f"{name}={value!r} must be true or false")
    return default


def whole_number(value: str, name: str, low: int, high: int, default: int, problems: list[str], unit: str = "") -> int:
    if not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        of_unit = f" of {unit}" if unit else ""
        problems.append(f"{name}={value!r} must be a whole number{of_unit} from {low} to {high}")
        return default
    return number


def choice(value: str, name: str, choices: tuple[str, ...], default: str, problems: list[str]) -> str:
    """One of `choices`, matched ignoring case and returned as spelled there."""
    if not value.strip():
        return default
    canonical = {option.lower(): option for option in choices}.get(value.strip().lower())
    if canonical is None:
        problems.append(f"{name}={value!r} must be one of {', '.join(choices)}")
        return default
    return canonical
