"""What the operator asked `fix` for, validated with the same rules as the check."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import SEVERITIES, Settings
from ..contact_shapes import SEVERITY_ORDER
from ..errors import ConfigError
from ..rules import owner_notifications
from ..rules.contact_email import email_domain_allowed, is_valid_email


class FixOptionsError(ConfigError):
    """The command line's fix options are invalid; nothing was read or written."""


@dataclass(frozen=True)
class FixOptions:
    # Addresses put on contacts that have none (or, with replace_emails, in place of ones that fail).
    emails: tuple[str, ...]
    # The "notify from" alert severity set where alerts need fixing.
    severity: str
    replace_emails: bool = False
    notify_owners: bool = False


def fix_options(
    email_arguments: list[str],
    settings: Settings,
    severity: str | None = None,
    replace_emails: bool = False,
    notify_owners: bool = False,
) -> FixOptions:
    """Validate --email, --severity and friends; raises FixOptionsError listing every problem."""
    problems: list[str] = []
    emails: list[str] = []
    for argument in email_arguments:
        emails.extend(part.strip() for part in argument.split(";") if part.strip())
    if not emails:
        problems.append("--email needs at least one address (several separated by ';')")
    for address in emails:
        if not is_valid_email(address):
            hint = " (separate several addresses with ';', not ',')" if "," in address else ""
            problems.append(f"--email {address!r} is not a valid email address{hint}")
        elif not email_domain_allowed(address, settings.allowed_email_domains):
            problems.append(
                f"--email {address} is outside ALLOWED_EMAIL_DOMAINS ({', '.join(settings.allowed_email_domains)})"
            )
    chosen = severity or settings.min_alert_severity
    matched = next((known for known in SEVERITIES if known.lower() == chosen.lower()), None)
    if matched is None:
        problems.append(f"--severity {chosen!r} must be one of {', '.join(SEVERITIES)}")
    elif SEVERITY_ORDER[matched.lower()] > SEVERITY_ORDER[settings.min_alert_severity.lower()]:
        problems.append(
            f"--severity {matched} is less sensitive than MIN_ALERT_SEVERITY={settings.min_alert_severity}: "
            "the contacts it writes would still fail the check"
        )
    if problems:
        raise FixOptionsError(problems)
    return FixOptions(
        emails=tuple(dict.fromkeys(emails)),
        severity=matched or settings.min_alert_severity,
        replace_emails=replace_emails,
        notify_owners=notify_owners,
    )


def settings_for_fix(settings: Settings, options: FixOptions) -> Settings:
    """The check's settings as this fix judges them: --severity and --notify-owners raise the bar for this run."""
    rules = settings.enabled_rules
    if options.notify_owners:
        rules = rules | {owner_notifications.RULE.id}
    return replace(settings, enabled_rules=rules, min_alert_severity=options.severity)
