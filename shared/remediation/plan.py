"""The smallest change to one subscription's security contact that makes every enabled rule pass.

Pure: the contact as the check judged it, the raw `default` resource as ARM returned it, the
settings and the fix options in; the PUT body and the field-by-field changes out. The body is the
whole resource read back with only the failing parts changed (read-modify-write), because a PUT
replaces the resource and a blind one would wipe phones, roles and sources nobody asked to touch.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import api_versions
from ..config import Settings
from ..contact_shapes import RISK_ORDER, SEVERITY_ORDER, ContactShapeError, parse_contacts, split_emails
from ..models import ContactSettings, ContactState
from ..rules import alert_notifications, attack_path_notifications, contact_email, evaluate, owner_notifications
from ..rules.contact_email import email_domain_allowed, is_valid_email
from .options import FixOptions

EMAIL = contact_email.RULE.id
ALERTS = alert_notifications.RULE.id
OWNERS = owner_notifications.RULE.id
ATTACK_PATHS = attack_path_notifications.RULE.id
# Rules that fail whenever the 2023 API's isEnabled master switch is off.
_SWITCHED_RULES = {ALERTS, OWNERS, ATTACK_PATHS}
# Defender for Cloud's documented default for attack paths without a contact: owners hear of Critical ones.
_DEFAULT_ATTACK_PATH_RISK = "Critical"


@dataclass(frozen=True)
class FieldChange:
    field: str
    # None when the field is not set.
    old: Any
    new: Any


@dataclass(frozen=True)
class ContactPlan:
    api_version: str
    changes: tuple[FieldChange, ...] = ()
    # The PUT body for securityContacts/default; None when nothing needs writing.
    body: dict[str, Any] | None = None
    # No contact resource exists yet: the PUT creates one.
    creates: bool = False
    # Why some enabled rule would still fail after this change (and what would fix it).
    unresolved: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return self.body is not None

    @property
    def complete(self) -> bool:
        return not self.unresolved


class _Editor:
    """A copy of the resource's properties that records every field it changes."""

    def __init__(self, properties: dict[str, Any]) -> None:
        self.properties = copy.deepcopy(properties)
        self.changes: list[FieldChange] = []

    def set(self, path: tuple[str, ...], value: Any) -> None:
        target = self.properties
        for key in path[:-1]:
            child = target.get(key)
            if child is None:
                child = target[key] = {}
            if not isinstance(child, dict):
                raise ContactShapeError(f"{key} is not an object")
            target = child
        old = target.get(path[-1])
        if old != value:
            target[path[-1]] = value
            self.changes.append(FieldChange(".".join(path), old, value))

    def sources(self) -> list[Any]:
        sources = self.properties.get("notificationsSources")
        if sources is None:
            return []
        if not isinstance(sources, list):
            raise ContactShapeError("notificationsSources is not a list")
        return sources

    def ensure_source(
        self, source_type: str, level_field: str, required: str, value: str, order: dict[str, int]
    ) -> None:
        """One enabled notificationsSources entry of this type at `required` or more sensitive."""
        sources = self.sources()
        entries = [
            s for s in sources if isinstance(s, dict) and str(s.get("sourceType", "")).lower() == source_type.lower()
        ]
        if any(_within(entry.get(level_field), required, order) for entry in entries):
            return
        if entries:
            old = entries[0].get(level_field)
            entries[0][level_field] = value
            self.changes.append(FieldChange(f"notificationsSources[{source_type}].{level_field}", old, value))
            return
        entry = {"sourceType": source_type, level_field: value}
        self.properties["notificationsSources"] = [*sources, entry]
        self.changes.append(FieldChange(f"notificationsSources[{source_type}]", None, entry))


def plan_contact(
    contact: ContactSettings,
    resource: dict[str, Any] | None,
    settings: Settings,
    options: FixOptions,
    subscription_id: str = "",
    others: Sequence[dict[str, Any]] = (),
) -> ContactPlan:
    """The change for one subscription; raises ContactShapeError when the resource cannot be edited safely.

    `others` are the subscription's contact resources not named `default`: never written, but the check
    reads them together with `default`, so the plan's self-check does too.
    """
    api_version = contact.api_version
    failing = {finding.rule for finding in evaluate(contact, settings)}
    if not failing:
        return ContactPlan(api_version)
    creates = resource is None
    properties = {} if resource is None else resource.get("properties")
    if not isinstance(properties, dict):
        raise ContactShapeError("security contact without a properties object")
    editor = _Editor(properties)
    unresolved: list[str] = []
    covered: set[str] = set()
    with_master_switch = api_version == api_versions.CONTACTS_2023

    if EMAIL in failing or creates:
        _fix_emails(editor, settings, options, unresolved, covered)
    if with_master_switch and (creates or failing & _SWITCHED_RULES):
        editor.set(("isEnabled",), True)
    # A new resource replaces Defender for Cloud's defaults, so it keeps what they did (alerts, owners).
    if creates or ALERTS in failing:
        if with_master_switch:
            editor.ensure_source(
                "Alert", "minimalSeverity", settings.min_alert_severity, options.severity, SEVERITY_ORDER
            )
        else:
            _fix_alerts_2020(editor, settings.min_alert_severity, options.severity)
    if creates or OWNERS in failing:
        _fix_owners(editor)
    if ATTACK_PATHS in failing or (creates and with_master_switch):
        if with_master_switch:
            required = (
                settings.min_attack_path_risk if ATTACK_PATHS in settings.enabled_rules else _DEFAULT_ATTACK_PATH_RISK
            )
            editor.ensure_source("AttackPath", "minimalRiskLevel", required, required, RISK_ORDER)
        else:
            covered.add(ATTACK_PATHS)
            unresolved.append(
                f"{ATTACK_PATHS}: the security contacts API this subscription was read with ({api_version}) cannot "
                "express attack-path notifications; set them in the portal"
            )
    if contact.state is ContactState.PROVIDER_NOT_REGISTERED:
        unresolved.append(
            "Microsoft.Security is not registered on this subscription, so the write will be refused: run "
            f"`az provider register --namespace Microsoft.Security --subscription {subscription_id or '<id>'}` first"
        )

    if editor.changes:
        _normalise_emails(editor)

    # The plan checks itself: whatever the edited resource would still fail is said, never hidden.
    after = parse_contacts([*others, {"properties": editor.properties}], api_version) if editor.changes else contact
    for finding in evaluate(after, settings):
        if finding.rule not in covered:
            covered.add(finding.rule)
            unresolved.append(f"{finding.rule}: {finding.message}")
    return ContactPlan(
        api_version=api_version,
        changes=tuple(editor.changes),
        body={"properties": editor.properties} if editor.changes else None,
        creates=creates,
        unresolved=tuple(unresolved),
    )


def _fix_emails(
    editor: _Editor, settings: Settings, options: FixOptions, unresolved: list[str], covered: set[str]
) -> None:
    existing = split_emails(editor.properties.get("emails"))
    wanted = ";".join(options.emails)
    failing = [
        address
        for address in existing
        if not is_valid_email(address) or not email_domain_allowed(address, settings.allowed_email_domains)
    ]
    if not existing or (failing and options.replace_emails):
        editor.set(("emails",), wanted)
    elif failing:
        covered.add(EMAIL)
        unresolved.append(
            f"{EMAIL}: {', '.join(failing)} fails the rule and existing addresses are never dropped; "
            f"add --replace-emails to replace them with {wanted}"
        )


def _normalise_emails(editor: _Editor) -> None:
    # Some responses carry emails as a list; the API's own type is one ';'-separated string. Only done
    # when something else is written anyway: the format alone is no reason to write.
    emails = editor.properties.get("emails")
    if isinstance(emails, list):
        editor.set(("emails",), ";".join(split_emails(emails)))


def _fix_alerts_2020(editor: _Editor, required: str, severity: str) -> None:
    alerts = editor.properties.get("alertNotifications") or {}
    if not isinstance(alerts, dict):
        raise ContactShapeError("alertNotifications is not an object")
    if str(alerts.get("state", "")).lower() != "on":
        editor.set(("alertNotifications", "state"), "On")
    if not _within(alerts.get("minimalSeverity"), required, SEVERITY_ORDER):
        editor.set(("alertNotifications", "minimalSeverity"), severity)


def _fix_owners(editor: _Editor) -> None:
    by_role = editor.properties.get("notificationsByRole") or {}
    if not isinstance(by_role, dict):
        raise ContactShapeError("notificationsByRole is not an object")
    roles = by_role.get("roles") or []
    if not isinstance(roles, list):
        raise ContactShapeError("notificationsByRole.roles is not a list")
    if str(by_role.get("state", "")).lower() != "on":
        editor.set(("notificationsByRole", "state"), "On")
    if not any(str(role).lower() == "owner" for role in roles):
        editor.set(("notificationsByRole", "roles"), [*roles, "Owner"])


def _within(level: Any, required: str, order: dict[str, int]) -> bool:
    """Whether a threshold is known and at least as sensitive as the required one."""
    return isinstance(level, str) and level.lower() in order and order[level.lower()] <= order[required.lower()]


def changed_since_planned(confirmed: ContactPlan, fresh: ContactPlan) -> str:
    """How a plan made from a fresh read differs from the one the operator confirmed, in one line."""
    if not fresh.writes:
        return "the contact changed since it was planned and needs no change now"
    if fresh.creates != confirmed.creates:
        return "the contact was created or deleted since it was planned"
    before = (confirmed.body or {}).get("properties", {})
    after = (fresh.body or {}).get("properties", {})
    fields = sorted(key for key in {*before, *after} if before.get(key) != after.get(key))
    if fields:
        return f"the contact changed since it was planned ({', '.join(fields)})"
    return "the contact changed since it was planned (what the change would leave unresolved)"
