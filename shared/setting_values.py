"""One app setting's text as a value; a bad value adds a readable problem (and yields the default)
instead of raising, so every loader can report all problems at once."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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


# Signs that a value holds a credential rather than an address: a storage connection string, a SAS
# token, a function key or a password in a query string.
_CREDENTIAL = re.compile(
    r"accountkey|sharedaccesskey|sharedaccesssignature|defaultendpointsprotocol=|sig="
    r"|(^|[?&;])(se|sv|code|key|token|password)=",
    re.IGNORECASE,
)


def looks_like_credential(value: str) -> bool:
    return _CREDENTIAL.search(value) is not None


def bare_https_endpoint(value: str, name: str, example: str, problems: list[str], hint: str = "") -> str | None:
    """`https://host[:port]` without a trailing slash; None (and a problem) for anything else.

    Endpoint settings are where a connection string or a SAS URL gets pasted by mistake, so a problem
    names the setting and what is wrong with its shape but never repeats the value.
    """
    reason = _endpoint_shape_problem(value)
    if reason is None:
        return value.rstrip("/")
    problems.append(
        f"{name} must be a bare https:// endpoint such as {example}: the value {reason} "
        f"(value not shown: it may hold a secret){hint}"
    )
    return None


def _endpoint_shape_problem(value: str) -> str | None:
    if looks_like_credential(value):
        return "looks like a connection string or a SAS token"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() != "https":
        return "does not start with https://"
    if not parts.hostname:
        return "has no host name"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password"
    if parts.query:
        return "has a query string"
    if parts.fragment or "#" in value:
        return "has a fragment"
    if parts.path not in ("", "/"):
        return "has a path after the host name"
    return None
