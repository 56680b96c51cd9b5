"""The emulated tenant: management groups, subscriptions and their security contacts.

Scenario files describe a tenant in JSON (see scenarios/sample.json); `generate`
builds large synthetic tenants for the benchmark.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_2017 = "2017-08-01-preview"
API_2020 = "2020-01-01-preview"
API_2023 = "2023-12-01-preview"
CONTACT_API_VERSIONS = (API_2017, API_2020, API_2023)
# How live ARM types a nested group in `$expand=children` (what `az account management-group show
# --expand --recurse` prints), and how the azure-rest-api-specs example types it.
LIVE_GROUP_CHILD_TYPE = "/providers/Microsoft.Management/managementGroups"
SPEC_GROUP_CHILD_TYPE = "Microsoft.Management/managementGroups"
CHILD_TYPE_STYLES = {"live": LIVE_GROUP_CHILD_TYPE, "spec": SPEC_GROUP_CHILD_TYPE}
# What a securityContacts PUT may say, per the API's swagger.
WRITABLE_CONTACT_API_VERSIONS = (API_2020, API_2023)
_ON_OFF = ("On", "Off")
_SEVERITIES = ("High", "Medium", "Low")
_RISK_LEVELS = ("Critical", "High", "Medium", "Low")
_ROLES = ("AccountAdmin", "ServiceAdmin", "Owner", "Contributor")
# How a cloud refuses a securityContacts api-version it does not offer: the public cloud with a 400,
# Azure China with a 404 `InvalidResourceType` (azure-sdk-for-go#24104).
CONTACT_REFUSALS = ("public", "china")
# Where live records sit (the service reports a location and an etag on every contact).
CONTACT_LOCATION = "West Europe"
_PROPERTIES = {
    API_2020: {"emails", "phone", "alertNotifications", "notificationsByRole"},
    API_2023: {"emails", "phone", "isEnabled", "notificationsByRole", "notificationsSources"},
}


@dataclass
class Contact:
    """A security contact in API-neutral form; rendered per api-version on request."""

    emails: list[str]
    phone: str = ""
    alerts_enabled: bool = True
    minimal_severity: str = "High"
    roles_enabled: bool = True
    roles: list[str] = field(default_factory=lambda: ["Owner"])
    # The 2023 API's master switch.
    enabled: bool = True
    attack_path_risk_level: str = "Critical"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contact:
        return cls(
            emails=list(data.get("emails", [])),
            phone=data.get("phone", ""),
            alerts_enabled=data.get("alertsEnabled", True),
            minimal_severity=data.get("minimalSeverity", "High"),
            roles_enabled=data.get("rolesEnabled", True),
            roles=list(data.get("roles", ["Owner"])),
            enabled=data.get("enabled", True),
            attack_path_risk_level=data.get("attackPathRiskLevel", "Critical"),
        )

    @classmethod
    def system_default(cls) -> Contact:
        """What a subscription that never had a contact can list: no address, owners and High alerts on."""
        return cls(emails=[], phone="", alerts_enabled=True, minimal_severity="High", roles=["Owner"])


@dataclass
class Group:
    group_id: str
    display_name: str
    parent_id: str | None
    child_group_ids: list[str] = field(default_factory=list)
    subscription_ids: list[str] = field(default_factory=list)


@dataclass
class EmulatedSubscription:
    subscription_id: str
    display_name: str
    group_id: str
    state: str = "Enabled"
    contact: Contact | None = None
    # Verbatim `value` arrays per api-version, for shapes the Contact model cannot express.
    raw_contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The caller has no reader role here: contact reads answer 403.
    deny_contacts: bool = False
    # Missing from GET /subscriptions, as when the caller has no role on it.
    unlisted: bool = False
    # Listed by GET /subscriptions but absent from the management-group tree the caller reads.
    hidden_from_tree: bool = False
    # Microsoft.Security never registered: contact reads answer 409 MissingSubscriptionRegistration.
    security_provider_registered: bool = True
    # The code of that 409: Microsoft.Security has also been seen answering "Subscription Not Registered".
    unregistered_code: str = "MissingSubscriptionRegistration"
    # Another tenant's subscription delegated to this one (Azure Lighthouse); None means the home tenant.
    home_tenant_id: str | None = None
    # Contact api-versions this one subscription accepts, when it differs from the tenant's.
    contact_api_versions: tuple[str, ...] | None = None


class Tenant:
    def __init__(self, tenant_id: str, root_display_name: str = "Tenant Root Group") -> None:
        self.tenant_id = tenant_id
        self.root_id = tenant_id
        self.groups: dict[str, Group] = {tenant_id.lower(): Group(tenant_id, root_display_name, None)}
        self.subscriptions: dict[str, EmulatedSubscription] = {}
        self.unreadable_group_ids: set[str] = set()
        self.contact_api_versions: tuple[str, ...] = CONTACT_API_VERSIONS
        # "public" or "china": how an api-version that is not offered is refused (see CONTACT_REFUSALS).
        self.contact_refusal = "public"
        # The live 2020-01-01-preview list is a bare JSON array; True serves the spec's {"value": [...]} instead.
        self.spec_2020_list_envelope = False
        self.page_size = 100
        self.group_child_type = LIVE_GROUP_CHILD_TYPE
        # A child of this type is added under the root group, to see how a client copes with the unknown.
        self.unknown_child_type: str | None = None
        # When set, nextLinks point at this host instead of the emulator (a hostile or broken proxy).
        self.next_link_host: str | None = None
        # Customer tenants that delegate subscriptions here (Azure Lighthouse): id -> display name,
        # or None where GET /tenants does not show a name.
        self.delegating_tenants: dict[str, str | None] = {}

    def add_group(self, group_id: str, display_name: str, parent_id: str | None = None) -> Group:
        parent = self._group(parent_id or self.root_id)
        group = Group(group_id, display_name, parent.group_id)
        self.groups[group_id.lower()] = group
        parent.child_group_ids.append(group_id.lower())
        return group

    def add_subscription(self, subscription: EmulatedSubscription) -> EmulatedSubscription:
        self._group(subscription.group_id).subscription_ids.append(subscription.subscription_id.lower())
        self.subscriptions[subscription.subscription_id.lower()] = subscription
        return subscription

    def find_group(self, group_id: str) -> Group | None:
        return self.groups.get(group_id.lower())

    def _group(self, group_id: str) -> Group:
        group = self.find_group(group_id)
        if group is None:
            raise ValueError(f"unknown management group {group_id!r}")
        return group

    @classmethod
    def from_file(cls, path: Path) -> Tenant:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tenant:
        tenant = cls(data["tenantId"], data.get("rootDisplayName", "Tenant Root Group"))
        tenant.page_size = int(data.get("pageSize", tenant.page_size))
        tenant.group_child_type = CHILD_TYPE_STYLES[data.get("childGroupTypes", "live")]
        for delegating in data.get("delegatingTenants", []):
            tenant.delegating_tenants[delegating["tenantId"].lower()] = delegating.get("displayName")
        if "contactsApiVersions" in data:
            tenant.contact_api_versions = tuple(data["contactsApiVersions"])
        tenant.contact_refusal = data.get("contactsRefusal", tenant.contact_refusal)
        if tenant.contact_refusal not in CONTACT_REFUSALS:
            raise ValueError(f"contactsRefusal must be one of {', '.join(CONTACT_REFUSALS)}")
        tenant.spec_2020_list_envelope = data.get("contactListEnvelopes") == "spec"
        for group in data.get("groups", []):
            tenant.add_group(group["id"], group.get("displayName", group["id"]), group.get("parent"))
        for sub in data.get("subscriptions", []):
            contact = sub.get("contact")
            if contact == "systemDefault":
                contact = Contact.system_default()
            elif contact:
                contact = Contact.from_json(contact)
            tenant.add_subscription(
                EmulatedSubscription(
                    subscription_id=sub["id"],
                    display_name=sub.get("displayName", sub["id"]),
                    group_id=sub.get("group") or tenant.root_id,
                    state=sub.get("state", "Enabled"),
                    contact=contact or None,
                    raw_contacts=dict(sub.get("rawContacts", {})),
                    deny_contacts=bool(sub.get("denyContacts", False)),
                    unlisted=bool(sub.get("unlisted", False)),
                    hidden_from_tree=bool(sub.get("hiddenFromTree", False)),
                    security_provider_registered=bool(sub.get("securityProviderRegistered", True)),
                    unregistered_code=sub.get("unregisteredCode", "MissingSubscriptionRegistration"),
                    home_tenant_id=sub.get("homeTenantId"),
                )
            )
        tenant.unreadable_group_ids = {g.lower() for g in data.get("unreadableGroups", [])}
        return tenant

    # -- writes ----------------------------------------------------------------

    def put_contact(
        self, subscription: EmulatedSubscription, api_version: str, name: str, properties: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Store a validated PUT as the api-version shapes it; (the stored resource, whether it was created)."""
        base = f"/subscriptions/{subscription.subscription_id}/providers/Microsoft.Security/securityContacts"
        resource = {
            "id": f"{base}/{name}",
            "name": name,
            "type": "Microsoft.Security/securityContacts",
            "properties": json.loads(json.dumps(properties)),
        }
        items = [item for item in self.contact_items(subscription, api_version) if item.get("name") != name]
        created = len(items) == len(self.contact_items(subscription, api_version))
        # The written api-version answers with exactly what was written; the others render from the model.
        subscription.raw_contacts = {api_version: [*items, resource]}
        subscription.contact = _contact_from_properties(properties, api_version)
        return resource, created

    # -- rendering -------------------------------------------------------------

    def contact_items(self, subscription: EmulatedSubscription, api_version: str) -> list[dict[str, Any]]:
        """The securityContacts `value` array exactly as the given api-version shapes it."""
        base = f"/subscriptions/{subscription.subscription_id}/providers/Microsoft.Security/securityContacts"
        if api_version in subscription.raw_contacts:
            return subscription.raw_contacts[api_version]
        contact = subscription.contact
        if contact is None:
            return []
        on_off = {True: "On", False: "Off"}
        if api_version == API_2017:
            # One resource per address, named default1, default2, ...
            return [
                {
                    "id": f"{base}/default{index}",
                    "name": f"default{index}",
                    "type": "Microsoft.Security/securityContacts",
                    "etag": _etag(subscription.subscription_id, api_version, index),
                    "location": CONTACT_LOCATION,
                    "properties": {
                        "email": email,
                        "phone": contact.phone,
                        "alertNotifications": on_off[contact.alerts_enabled],
                        "alertsToAdmins": on_off[contact.roles_enabled and "Owner" in contact.roles],
                    },
                }
                for index, email in enumerate(contact.emails or [""], start=1)
            ]
        properties: dict[str, Any] = {"emails": ";".join(contact.emails), "phone": contact.phone}
        roles = {"state": on_off[contact.roles_enabled], "roles": list(contact.roles)}
        if api_version == API_2020:
            properties["alertNotifications"] = {
                "state": on_off[contact.alerts_enabled],
                "minimalSeverity": contact.minimal_severity,
            }
            properties["notificationsByRole"] = roles
        else:
            sources: list[dict[str, Any]] = []
            if contact.alerts_enabled:
                sources.append({"sourceType": "Alert", "minimalSeverity": contact.minimal_severity})
            sources.append({"sourceType": "AttackPath", "minimalRiskLevel": contact.attack_path_risk_level})
            properties["isEnabled"] = contact.enabled
            properties["notificationsByRole"] = roles
            properties["notificationsSources"] = sources
        return [
            {
                "id": f"{base}/default",
                "name": "default",
                "type": "Microsoft.Security/securityContacts",
                "etag": _etag(subscription.subscription_id, api_version, 0),
                "location": CONTACT_LOCATION,
                "properties": properties,
            }
        ]

    def tenant_entries(self) -> list[dict[str, Any]]:
        """GET /tenants: this tenant and the customer tenants whose delegations the caller can see."""
        entries = [{"id": f"/tenants/{self.tenant_id}", "tenantId": self.tenant_id, "displayName": "Contoso (home)"}]
        for tenant_id, name in self.delegating_tenants.items():
            entry: dict[str, Any] = {
                "id": f"/tenants/{tenant_id}",
                "tenantId": tenant_id,
                "tenantCategory": "ProjectedBy",
            }
            if name:
                entry["displayName"] = name
            entries.append(entry)
        return entries

    def security_provider(self) -> dict[str, Any]:
        """GET /providers/Microsoft.Security: the provider's resource types and the api-versions each offers."""
        return {
            "id": "/providers/Microsoft.Security",
            "namespace": "Microsoft.Security",
            "resourceTypes": [
                {"resourceType": "securityContacts", "locations": [], "apiVersions": list(self.contact_api_versions)},
                {"resourceType": "pricings", "locations": [], "apiVersions": ["2024-01-01", "2023-01-01"]},
            ],
        }

    def group_summary(self, group: Group) -> dict[str, Any]:
        return {
            "id": f"/providers/Microsoft.Management/managementGroups/{group.group_id}",
            "type": "Microsoft.Management/managementGroups",
            "name": group.group_id,
            "properties": {"tenantId": self.tenant_id, "displayName": group.display_name},
        }

    def group_details(self, group: Group, expand_children: bool, recurse: bool) -> dict[str, Any]:
        body = self.group_summary(group)
        parent = self.find_group(group.parent_id) if group.parent_id else None
        body["properties"]["details"] = {
            "version": 1,
            "updatedTime": "2026-01-01T00:00:00Z",
            "updatedBy": "emulator",
            "parent": (
                {
                    "id": f"/providers/Microsoft.Management/managementGroups/{parent.group_id}",
                    "name": parent.group_id,
                    "displayName": parent.display_name,
                }
                if parent
                else None
            ),
        }
        if expand_children:
            body["properties"]["children"] = self._children(group, recurse)
        return body

    def _children(self, group: Group, recurse: bool) -> list[dict[str, Any]]:
        """ManagementGroupChildInfo entries: child groups (with children when recursing), then subscriptions."""
        children = []
        for child_id in group.child_group_ids:
            child = self.groups[child_id]
            grandchildren = self._children(child, recurse) if recurse else None
            children.append(
                _child_info(
                    self.group_child_type,
                    f"/providers/Microsoft.Management/managementGroups/{child.group_id}",
                    child.display_name,
                    grandchildren,
                )
            )
        for sub_id in group.subscription_ids:
            sub = self.subscriptions[sub_id]
            if sub.hidden_from_tree or sub.home_tenant_id:
                continue
            children.append(_child_info("/subscriptions", f"/subscriptions/{sub.subscription_id}", sub.display_name))
        if self.unknown_child_type and group.group_id == self.root_id:
            children.append(_child_info(self.unknown_child_type, "/providers/Contoso.Widgets/widgets/w1", "Widget"))
        return children

    def subscription_entry(self, sub: EmulatedSubscription) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sub.subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [{"tenantId": self.tenant_id}] if sub.home_tenant_id else [],
            "subscriptionId": sub.subscription_id,
            "tenantId": sub.home_tenant_id or self.tenant_id,
            "displayName": sub.display_name,
            "state": sub.state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }


def contact_put_problems(api_version: str, name: str | None, body: Any) -> list[str]:
    """Why ARM would refuse this securityContacts PUT body (empty when it is acceptable)."""
    if api_version not in WRITABLE_CONTACT_API_VERSIONS:
        return [f"The emulator accepts security contact writes only in {', '.join(WRITABLE_CONTACT_API_VERSIONS)}."]
    if not name:
        return ["A security contact PUT must name the contact."]
    problems = []
    if api_version == API_2023 and name != "default":
        problems.append(f"Security contact name '{name}' is invalid: in {API_2023} the name must be 'default'.")
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict):
        return [*problems, "The request body must be a JSON object with a 'properties' object."]
    unknown = sorted(set(properties) - _PROPERTIES[api_version])
    if unknown:
        problems.append(f"Properties not in {api_version}: {', '.join(unknown)}.")
    # Only the type: how strictly the service checks the addresses themselves is not documented.
    if not isinstance(properties.get("emails", ""), str):
        problems.append("emails must be a string of addresses separated by ';'.")
    if not isinstance(properties.get("phone", ""), str):
        problems.append("phone must be a string.")
    by_role = properties.get("notificationsByRole")
    if by_role is not None:
        if not isinstance(by_role, dict) or by_role.get("state", "On") not in _ON_OFF:
            problems.append("notificationsByRole.state must be On or Off.")
        elif not isinstance(by_role.get("roles", []), list) or set(by_role.get("roles", [])) - set(_ROLES):
            problems.append(f"notificationsByRole.roles must be among {', '.join(_ROLES)}.")
    if api_version == API_2020:
        alerts = properties.get("alertNotifications")
        if alerts is not None and (
            not isinstance(alerts, dict)
            or alerts.get("state", "On") not in _ON_OFF
            or alerts.get("minimalSeverity", "High") not in _SEVERITIES
        ):
            problems.append(f"alertNotifications needs state On/Off and minimalSeverity {'/'.join(_SEVERITIES)}.")
        return problems
    if not isinstance(properties.get("isEnabled", False), bool):
        problems.append("isEnabled must be true or false.")
    sources = properties.get("notificationsSources", [])
    if not isinstance(sources, list):
        return [*problems, "notificationsSources must be a list."]
    for source in sources:
        kind = source.get("sourceType") if isinstance(source, dict) else None
        if kind == "Alert" and source.get("minimalSeverity") in _SEVERITIES:
            continue
        if kind == "AttackPath" and source.get("minimalRiskLevel") in _RISK_LEVELS:
            continue
        problems.append(f"notificationsSources entry {source!r} is not a valid Alert or AttackPath source.")
    return problems


def _contact_from_properties(properties: dict[str, Any], api_version: str) -> Contact:
    """The API-neutral model of a written contact, so other api-versions render it too (best effort)."""
    by_role = properties.get("notificationsByRole") or {}
    contact = Contact(
        emails=[part for part in str(properties.get("emails") or "").split(";") if part],
        phone=str(properties.get("phone") or ""),
        roles_enabled=by_role.get("state") == "On",
        roles=list(by_role.get("roles") or []),
    )
    if api_version == API_2020:
        alerts = properties.get("alertNotifications") or {}
        contact.alerts_enabled = alerts.get("state") == "On"
        contact.minimal_severity = alerts.get("minimalSeverity", "High")
        return contact
    sources = {source["sourceType"]: source for source in properties.get("notificationsSources") or []}
    contact.enabled = bool(properties.get("isEnabled"))
    contact.alerts_enabled = "Alert" in sources
    contact.minimal_severity = sources.get("Alert", {}).get("minimalSeverity", "High")
    contact.attack_path_risk_level = sources.get("AttackPath", {}).get("minimalRiskLevel", "Critical")
    return contact


def _etag(subscription_id: str, api_version: str, index: int) -> str:
    """A stable, quoted etag shaped like the service's ("0100399f-0000-0d00-0000-5e4e4ddb0000")."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{subscription_id}/{api_version}/{index}")
    return f'"{digest}"'


def _child_info(
    child_type: str, resource_id: str, display_name: str, children: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "type": child_type,
        "id": resource_id,
        "name": resource_id.rsplit("/", 1)[-1],
        "displayName": display_name,
        "children": children,
    }


def generate(subscription_count: int, depth: int = 6, fanout: int = 3, seed: int = 7, cloud: str = "public") -> Tenant:
    """A synthetic tenant: `depth` levels of groups below the root, subscriptions spread over the leaves.

    The mix of contact settings is deterministic per seed so benchmark runs compare. With cloud "china"
    the tenant offers no 2023-12-01-preview and refuses it the way Azure China does.
    """
    rng = random.Random(seed)
    tenant = Tenant(str(uuid.UUID(int=rng.getrandbits(128))))
    if cloud == "china":
        tenant.contact_api_versions = (API_2020, API_2017)
        tenant.contact_refusal = "china"
    level = [tenant.root_id]
    for depth_index in range(1, depth):
        next_level = []
        for parent in level:
            for child_index in range(fanout):
                group_id = f"{parent[:8]}-l{depth_index}-{len(next_level)}-{child_index}"
                tenant.add_group(group_id, f"Level {depth_index} group {len(next_level)}", parent)
                next_level.append(group_id)
        level = next_level
    for index in range(subscription_count):
        roll = rng.random()
        state = "Disabled" if roll < 0.02 else "Enabled"
        if roll < 0.07:
            contact = None
        elif roll < 0.15:
            contact = Contact(emails=[f"secops{index}@contoso.com"], minimal_severity="High", roles_enabled=False)
        else:
            contact = Contact(emails=[f"secops{index}@contoso.com"], minimal_severity=rng.choice(["Low", "Medium"]))
        tenant.add_subscription(
            EmulatedSubscription(
                subscription_id=str(uuid.UUID(int=rng.getrandbits(128))),
                display_name=f"sub-{index:05d}",
                group_id=level[index % len(level)],
                state=state,
                contact=contact,
            )
        )
    tenant.page_size = 1000
    return tenant
