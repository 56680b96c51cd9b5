"""`settings`: every app setting's effective value, where it came from, and what is wrong with it.

The names come from the code's own registry (config.APP_SETTINGS, which gathers the rules', the
alert state's and the chat settings' names), so a setting added anywhere is listed without an edit
here; one this module has no effective-value reading for shows the text it was given. Secrets are
shown as set or unset, never their value or a piece of it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import APP_SETTINGS, Settings, load_settings
from .display_text import one_line
from .errors import ConfigError
from .rules import RULES
from .setting_names import setting_warnings
from .setting_values import looks_like_credential

# A setting whose name says it holds a secret is never shown; a new secret setting is covered by its name.
_SECRET_NAME = re.compile(r"WEBHOOK|CONNECTION_STRING|KEY|SECRET|TOKEN|PASSWORD|SAS\b")
SHOWN_VALUE_LIMIT = 120


@dataclass(frozen=True)
class SettingLine:
    name: str
    # "environment" or "default"
    source: str
    value: str
    problems: tuple[str, ...] = ()
    secret: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "value": self.value,
            "secret": self.secret,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class SettingsListing:
    lines: tuple[SettingLine, ...]
    # Problems no single setting is named in (e.g. two settings that contradict each other).
    other_problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(p for line in self.lines for p in line.problems), *self.other_problems]))

    def to_dict(self) -> dict[str, object]:
        return {
            "settings": [line.to_dict() for line in self.lines],
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


def is_secret(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def list_settings(environ: Mapping[str, str]) -> SettingsListing:
    names = tuple(dict.fromkeys(APP_SETTINGS))
    problems: list[str] = []
    try:
        settings = load_settings(environ)
    except ConfigError as error:
        problems = list(error.problems)
        # The rest still has an effective value: read again without the settings that were refused.
        refused = {name for name in names if any(_names(problem, name) for problem in problems)}
        try:
            settings = load_settings({k: v for k, v in environ.items() if k not in refused})
        except ConfigError:
            settings = Settings()
    lines = []
    for name in names:
        given = environ.get(name, "").strip()
        mine = tuple(problem for problem in problems if _names(problem, name))
        secret = is_secret(name)
        if secret:
            value = "set (not shown)" if given else "unset"
        elif mine:
            value = _shown(given)
        else:
            value = _effective(settings, name, given)
        lines.append(SettingLine(name, "environment" if given else "default", value, mine, secret))
    named = {problem for line in lines for problem in line.problems}
    return SettingsListing(
        lines=tuple(lines),
        other_problems=tuple(problem for problem in problems if problem not in named),
        warnings=tuple(setting_warnings(environ)),
    )


def _names(problem: str, name: str) -> bool:
    return re.search(rf"(?<![A-Z_]){re.escape(name)}(?![A-Z_])", problem) is not None


def _shown(value: str) -> str:
    """A value as it may be shown: one line, nothing secret-looking, a URL without its path or query
    (where keys and signatures live), not too long."""
    value = one_line(value)
    # A connection string, SAS or key pasted into a setting not meant to hold one is not shown either.
    if looks_like_credential(value):
        return "(not shown: it looks like it holds a key or signature)"
    if "://" in value:
        try:
            parts = urlsplit(value)
            if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
                value = f"{parts.scheme}://{parts.hostname}/… (path not shown)"
        except ValueError:
            value = "(not a valid URL; not shown)"
    return value if len(value) <= SHOWN_VALUE_LIMIT else value[: SHOWN_VALUE_LIMIT - 1] + "…"


def _listed(values: Iterable[object], empty: str) -> str:
    return ", ".join(sorted(str(value) for value in values)) or empty


def _yes(value: bool) -> str:
    return "true" if value else "false"


# How each setting's effective value reads, from the validated Settings.
_EFFECTIVE: dict[str, Callable[[Settings], str]] = {
    "MANAGEMENT_GROUP_IDS": lambda s: ", ".join(s.management_group_ids) or "the tenant root group",
    "INCLUDE_SUBSCRIPTION_IDS": lambda s: _listed(s.include_subscription_ids, "all subscriptions"),
    "EXCLUDE_SUBSCRIPTION_IDS": lambda s: _listed(s.exclude_subscription_ids, "none"),
    **{rule.setting: (lambda s, rule_id=rule.id: _yes(rule_id in s.enabled_rules)) for rule in RULES},
    "MIN_ALERT_SEVERITY": lambda s: s.min_alert_severity,
    "MIN_ATTACK_PATH_RISK": lambda s: s.min_attack_path_risk,
    "ALLOWED_EMAIL_DOMAINS": lambda s: ", ".join(s.allowed_email_domains) or "any domain",
    "CHECK_CONCURRENCY": lambda s: str(s.concurrency),
    "RUN_TIMEOUT_SECONDS": lambda s: f"{s.run_timeout_seconds} s",
    "AZURE_CLOUD": lambda s: s.cloud.name,
    "ARM_ENDPOINT": lambda s: _shown(s.arm_endpoint),
    "CONTACTS_API_VERSION": lambda s: s.contacts_api_version,
    "INCLUDE_DELEGATED_SUBSCRIPTIONS": lambda s: _yes(s.include_delegated),
    "STATE_TABLE_ENDPOINT": lambda s: s.state.table_endpoint or "unset",
    "STATE_TABLE_NAME": lambda s: s.state.table_name,
    "REMIND_AFTER_HOURS": lambda s: f"{s.state.remind_after.total_seconds() / 3600:g} hours",
    "NOTIFY_ALLOWED_HOSTS": lambda s: ", ".join(s.notify.allowed_hosts) or "none",
    "NOTIFY_ON": lambda s: _listed((status.value for status in s.notify.notify_on), "none"),
    "NOTIFY_MAX_MESSAGES": lambda s: str(s.notify.max_messages),
    "NOTIFY_ALWAYS": lambda s: _yes(s.notify.always),
    "REPORT_URL": lambda s: _shown(s.notify.report_url or "") or "none",
}
# Settings the Functions host reads rather than the code, with the default the deployment gives them.
_HOST_DEFAULTS = {"CHECK_SCHEDULE": "0 0 7 * * * (deployment default)"}


def _effective(settings: Settings, name: str, given: str) -> str:
    read = _EFFECTIVE.get(name)
    if read is not None:
        try:
            return read(settings)
        except AttributeError:  # a settings field renamed elsewhere: show what was given instead
            pass
    if name in _HOST_DEFAULTS and not given:
        return _HOST_DEFAULTS[name]
    return _shown(given) or "(default)"


def to_text(listing: SettingsListing, width: int = 100) -> str:
    """The listing as a table, values and problems wrapped under their setting; problems and warnings last."""
    name_width = max(len(line.name) for line in listing.lines)
    source_width = len("environment")
    indent = " " * (name_width + source_width + 4)
    room = max(24, width - len(indent))
    lines = [f"{'SETTING'.ljust(name_width)}  {'SOURCE'.ljust(source_width)}  VALUE"]
    for line in listing.lines:
        value = textwrap.wrap(line.value, room, break_on_hyphens=False) or [""]
        lines.append(f"{line.name.ljust(name_width)}  {line.source.ljust(source_width)}  {value[0]}".rstrip())
        lines.extend(indent + rest for rest in value[1:])
        for problem in line.problems:
            lines.extend(textwrap.wrap(f"problem: {problem}", width, initial_indent="  ", subsequent_indent="    "))
    for label, texts in (("problem", listing.other_problems), ("warning", listing.warnings)):
        if texts:
            lines.append("")
            for text in texts:
                lines.extend(textwrap.wrap(f"{label}: {text}", max(width, 40), subsequent_indent="  "))
    problems, warnings = len(listing.problems), len(listing.warnings)
    lines.append("")
    lines.append(
        f"{len(listing.lines)} settings, {problems} problem{'' if problems == 1 else 's'}, "
        f"{warnings} warning{'' if warnings == 1 else 's'}."
    )
    return "\n".join(lines)
