"""Chat alert settings: which webhooks, which statuses, how many messages, validated with the rest.

The webhook URLs are secrets (anyone holding one can post to the channel), so no
problem message, repr or log line ever contains them: only the setting's name and,
at most, the host name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from ..clouds import Cloud
from ..models import Status
from ..setting_values import flag, items, whole_number

TEAMS_WEBHOOK_URL = "TEAMS_WEBHOOK_URL"
SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
NOTIFY_ALLOWED_HOSTS = "NOTIFY_ALLOWED_HOSTS"
NOTIFY_ON = "NOTIFY_ON"
NOTIFY_MAX_MESSAGES = "NOTIFY_MAX_MESSAGES"
NOTIFY_ALWAYS = "NOTIFY_ALWAYS"
REPORT_URL = "REPORT_URL"

NOTIFY_SETTINGS: tuple[str, ...] = (
    TEAMS_WEBHOOK_URL,
    SLACK_WEBHOOK_URL,
    NOTIFY_ALLOWED_HOSTS,
    NOTIFY_ON,
    NOTIFY_MAX_MESSAGES,
    NOTIFY_ALWAYS,
    REPORT_URL,
)

DEFAULT_NOTIFY_ON = frozenset({Status.FAIL, Status.ERROR})
DEFAULT_MAX_MESSAGES = 5
MAX_MESSAGES_LIMIT = 50

# Host suffixes ("." prefix: any subdomain) and exact hosts each channel's webhooks live on.
TEAMS_HOSTS = (".logic.azure.com", ".environment.api.powerplatform.com", ".webhook.office.com")
SLACK_HOSTS = ("hooks.slack.com",)

# Query parameters that carry a credential (a function key, a SAS signature, a token): a link
# posted to a channel must not hand it to everyone who reads the channel.
_SECRET_PARAMETERS = frozenset({"code", "sig", "key", "token", "access_token", "api_key", "apikey", "password"})
MAX_REPORT_URL_LENGTH = 2000

_HOST = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclass(frozen=True)
class NotifySettings:
    teams_webhook_url: str | None = field(default=None, repr=False)
    slack_webhook_url: str | None = field(default=None, repr=False)
    # Extra hosts accepted for either channel (a proxy, a local test receiver), lower case.
    allowed_hosts: tuple[str, ...] = ()
    notify_on: frozenset[Status] = DEFAULT_NOTIFY_ON
    max_messages: int = DEFAULT_MAX_MESSAGES
    portal_url: str = "https://portal.azure.com"
    # Post even when nothing needs attention (an "all clear" message).
    always: bool = False
    # Where the full report can be read (behind the organisation's own sign-in); every message links it.
    report_url: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, in delivery order."""
        return tuple(
            name for name, url in (("teams", self.teams_webhook_url), ("slack", self.slack_webhook_url)) if url
        )


def load_notify_settings(environ: Mapping[str, str], cloud: Cloud, problems: list[str]) -> NotifySettings:
    """Read the notify settings; every problem is appended to `problems` (never with a URL in it)."""

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    allowed_hosts = _allowed_hosts(text(NOTIFY_ALLOWED_HOSTS), problems)
    return NotifySettings(
        teams_webhook_url=_webhook(text(TEAMS_WEBHOOK_URL), TEAMS_WEBHOOK_URL, TEAMS_HOSTS, allowed_hosts, problems),
        slack_webhook_url=_webhook(text(SLACK_WEBHOOK_URL), SLACK_WEBHOOK_URL, SLACK_HOSTS, allowed_hosts, problems),
        allowed_hosts=allowed_hosts,
        notify_on=_notify_on(text(NOTIFY_ON), problems),
        max_messages=whole_number(
            text(NOTIFY_MAX_MESSAGES), NOTIFY_MAX_MESSAGES, 1, MAX_MESSAGES_LIMIT, DEFAULT_MAX_MESSAGES, problems
        ),
        portal_url=cloud.portal_url,
        always=flag(text(NOTIFY_ALWAYS), NOTIFY_ALWAYS, False, problems),
        report_url=_report_url(text(REPORT_URL), problems),
    )


def host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    """`patterns` holds exact hosts and ".suffix" / "*.suffix" entries meaning any subdomain."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        suffix = pattern.removeprefix("*")
        if suffix.startswith("."):
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def _webhook(
    value: str, name: str, known_hosts: tuple[str, ...], allowed_hosts: tuple[str, ...], problems: list[str]
) -> str | None:
    if not value:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        problems.append(f"{name} is not a valid URL")
        return None
    # Only the scheme and host are ever named: the path and query carry the secret.
    if parts.scheme.lower() != "https" or not host:
        problems.append(f"{name} must be an https:// URL")
        return None
    if parts.username or parts.password:
        problems.append(f"{name} must not contain a user name or password")
        return None
    if not host_matches(host, known_hosts + allowed_hosts):
        expected = ", ".join(("*" + h) if h.startswith(".") else h for h in known_hosts)
        problems.append(
            f"{name} points at host {host!r}, which is not a known webhook host ({expected}); "
            f"add the host to {NOTIFY_ALLOWED_HOSTS} if it is a proxy or a test receiver"
        )
        return None
    return value


def _report_url(value: str, problems: list[str]) -> str | None:
    if not value:
        return None
    # Messages name the setting, never the value: a URL pasted with a key in it must not be echoed.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        problems.append(f"{REPORT_URL} is not a valid URL")
        return None
    if parts.scheme.lower() != "https" or not parts.hostname:
        problems.append(f"{REPORT_URL} must be an https:// URL")
    elif parts.username or parts.password:
        problems.append(f"{REPORT_URL} must not contain a user name or password")
    elif secret := sorted(_SECRET_PARAMETERS & {name.lower() for name, _ in parse_qsl(parts.query, True)}):
        problems.append(
            f"{REPORT_URL} carries a credential in its query ({', '.join(secret)}); it is posted to chat, so use "
            "a link behind your organisation's sign-in instead"
        )
    elif len(value) > MAX_REPORT_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in value):
        problems.append(f"{REPORT_URL} must be one line of at most {MAX_REPORT_URL_LENGTH} characters")
    else:
        return value
    return None


def _allowed_hosts(value: str, problems: list[str]) -> tuple[str, ...]:
    hosts = [item.lower() for item in items(value)]
    bad = [item for item in hosts if not _HOST.match(item)]
    if bad:
        problems.append(f"{NOTIFY_ALLOWED_HOSTS} has values that are not host names: {', '.join(bad)}")
    return tuple(dict.fromkeys(item for item in hosts if _HOST.match(item)))


def _notify_on(value: str, problems: list[str]) -> frozenset[Status]:
    if not value:
        return DEFAULT_NOTIFY_ON
    names = [item.lower() for item in items(value)]
    allowed = {Status.FAIL.value, Status.ERROR.value}
    bad = [item for item in names if item not in allowed]
    if bad:
        problems.append(
            f"{NOTIFY_ON} has values that cannot be alerted on: {', '.join(bad)}; use fail and/or error "
            "(skipped subscriptions are never alerted, fixed ones appear as resolved)"
        )
    statuses = frozenset(Status(item) for item in names if item in allowed)
    return statuses or DEFAULT_NOTIFY_ON
