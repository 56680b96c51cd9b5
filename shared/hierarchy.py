"""Finding every subscription under the scope management groups.

One recursive GET per scope group returns its whole subtree, and one paged
subscription list supplies states, so the call count does not grow with the
number of groups. The tree is read as JSON through the management-groups
client's own pipeline: typed models for tens of thousands of nodes cost more
CPU than the walk itself.

Live ARM types nested groups `/providers/Microsoft.Management/managementGroups`
while the spec example says `Microsoft.Management/managementGroups`; both are
accepted, and any other child type stops the run: skipping a child could drop a
whole subtree of subscriptions from a report that would then read "all clear".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from azure.mgmt.managementgroups.aio import ManagementGroupsMgmtClient

from . import api_versions
from .access import TENANT_ROOT, needs_role
from .arm_errors import describe_response
from .arm_paging import ArmCallError, ArmReader
from .errors import RunFailed
from .models import Subscription

log = logging.getLogger(__name__)

MAX_GROUP_LIST_PAGES = 1_000
MAX_SUBSCRIPTION_LIST_PAGES = 1_000
MAX_TENANT_PAGES = 100
# The first path element of a delegated subscription, so reports and messages group them apart.
DELEGATED_GROUP = "Delegated"
_SCOPE_ADVICE = f"Check the id and that the identity has {needs_role('it')}."


@dataclass(frozen=True)
class Discovery:
    # The management group ids actually walked (the tenant root when none were configured).
    scope: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]
    # Listed by GET /subscriptions in the home tenant but in no scope tree (only looked for at root scope).
    outside_tree: tuple[Subscription, ...] = ()
    # Listed subscriptions of other tenants (Azure Lighthouse delegations) not asked for, so not in the report.
    delegated_left_out: int = 0
    # The scope groups' display names, in `scope` order.
    scope_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ListedSubscription:
    subscription_id: str
    display_name: str
    state: str
    tenant_id: str


def child_kind(child_type: Any) -> str | None:
    """'group', 'subscription', or None for a type this monitor does not know."""
    segments = [segment for segment in str(child_type or "").lower().split("/") if segment]
    if segments[-1:] == ["subscriptions"]:
        return "subscription"
    if segments[-2:] == ["microsoft.management", "managementgroups"]:
        return "group"
    return None


async def discover(
    client: ManagementGroupsMgmtClient, group_ids: Iterable[str], arm_endpoint: str, include_delegated: bool = False
) -> Discovery:
    """Subscriptions under the scope groups; with `include_delegated`, other tenants' delegated ones too."""
    reader = ArmReader(client.send_request, arm_endpoint)
    scope = tuple(group_ids) or (await find_root_group_id(reader),)
    found: dict[str, Subscription] = {}
    home_tenants: set[str] = set()
    at_root = False
    names: list[str] = []
    for group_id in scope:
        tree = await _read_tree(reader, group_id)
        names.append(group_name(tree, group_id))
        tenant_id = _tenant_of(tree)
        if tenant_id:
            home_tenants.add(tenant_id)
            at_root = at_root or tenant_id == str(tree.get("name") or group_id).lower()
        for subscription in subscriptions_in(tree, group_id, tenant_id):
            key = subscription.subscription_id.lower()
            known = found.get(key)
            # Overlapping scopes: keep the path from the outermost group.
            if known is None or len(subscription.management_group_path) > len(known.management_group_path):
                found[key] = subscription
    listed = await list_subscriptions(reader)
    subscriptions = [replace(s, state=_state(listed, key)) for key, s in found.items()]
    outside: list[Subscription] = []
    delegated: list[_ListedSubscription] = []
    for key, entry in listed.items():
        if key in found:
            continue
        if entry.tenant_id and home_tenants and entry.tenant_id not in home_tenants:
            delegated.append(entry)
        elif at_root:
            # Below the root, the rest of the tenant is simply out of scope.
            outside.append(Subscription(entry.subscription_id, entry.display_name, (), entry.state, entry.tenant_id))
    if include_delegated and delegated:
        subscriptions.extend(await delegated_subscriptions(reader, delegated))
    elif delegated:
        log.warning(
            "%d subscriptions delegated from other tenants (Azure Lighthouse) are not checked; set "
            "INCLUDE_DELEGATED_SUBSCRIPTIONS=true (or pass --tenant) to include them",
            len(delegated),
        )
    left_out = 0 if include_delegated else len(delegated)
    return Discovery(scope, tuple(subscriptions), tuple(outside), left_out, tuple(names))


async def delegated_subscriptions(reader: ArmReader, entries: list[_ListedSubscription]) -> list[Subscription]:
    """Delegated subscriptions, each under ("Delegated", <tenant display name or id>)."""
    names = await tenant_names(reader)
    return [
        Subscription(
            entry.subscription_id,
            entry.display_name,
            (DELEGATED_GROUP, names.get(entry.tenant_id) or entry.tenant_id),
            entry.state,
            entry.tenant_id,
            delegated=True,
        )
        for entry in entries
    ]


async def tenant_names(reader: ArmReader) -> dict[str, str]:
    """Display names of the tenants the identity can see; where ARM does not say, the id serves."""
    try:
        entries = await reader.list_values(f"/tenants?api-version={api_versions.TENANTS}", MAX_TENANT_PAGES)
    except ArmCallError as error:
        log.info("tenant names are not readable (%s); delegated subscriptions are grouped by tenant id", error)
        return {}
    names: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("tenantId"), str):
            name = entry.get("displayName") or entry.get("defaultDomain")
            if isinstance(name, str) and name:
                names[entry["tenantId"].lower()] = name
    return names


async def find_root_group_id(reader: ArmReader) -> str:
    """The tenant root group's id is the tenant id, which every visible group reports."""
    url = f"/providers/Microsoft.Management/managementGroups?api-version={api_versions.MANAGEMENT_GROUPS}"
    try:
        async for page in reader.pages(url, MAX_GROUP_LIST_PAGES):
            if page.status != 200:
                raise ArmCallError(describe_response(page.status, page.body))
            for group in page.body["value"]:
                tenant_id = _tenant_of(group)
                if tenant_id:
                    return tenant_id
    except ArmCallError as error:
        raise RunFailed(f"could not list management groups to find the tenant root: {error}") from error
    raise RunFailed(
        f"no management groups are visible to this identity; grant it {needs_role(TENANT_ROOT)} "
        "or set MANAGEMENT_GROUP_IDS to the groups it can read"
    )


def group_name(tree: Any, group_id: str) -> str:
    """A group's display name ("Tenant Root Group"), or its id where the tree does not say."""
    properties = tree.get("properties") if isinstance(tree, dict) else None
    name = properties.get("displayName") if isinstance(properties, dict) else None
    if isinstance(name, str) and name:
        return name
    return str(tree.get("name") or group_id) if isinstance(tree, dict) else group_id


def subscriptions_in(tree: Any, group_id: str, tenant_id: str = "") -> Iterator[Subscription]:
    """Subscriptions of an expanded group, each with the display names of the groups above it."""
    try:
        properties = tree.get("properties") or {}
        name = group_name(tree, group_id)
        stack: list[tuple[Any, tuple[str, ...]]] = [(c, (name,)) for c in reversed(properties.get("children") or [])]
        while stack:
            child, path = stack.pop()
            kind = child_kind(child.get("type"))
            if kind == "subscription":
                subscription_id = str(child.get("name") or str(child["id"]).rsplit("/", 1)[-1])
                yield Subscription(
                    subscription_id, child.get("displayName") or subscription_id, path, tenant_id=tenant_id
                )
            elif kind == "group":
                child_path = (*path, child.get("displayName") or child.get("name"))
                stack.extend((grandchild, child_path) for grandchild in reversed(child.get("children") or []))
            else:
                raise RunFailed(
                    f"management group {group_id!r} has a child of unknown type {child.get('type')!r} "
                    f"({child.get('id')}); stopping rather than leaving out whatever is below it"
                )
    except (AttributeError, KeyError, TypeError) as error:
        raise RunFailed(f"management group {group_id!r} came back in an unexpected shape ({error!r})") from error


async def list_subscriptions(reader: ArmReader) -> dict[str, _ListedSubscription]:
    """Every subscription the identity can list, by lowercase id."""
    url = f"/subscriptions?api-version={api_versions.SUBSCRIPTIONS}"
    try:
        entries = await reader.list_values(url, MAX_SUBSCRIPTION_LIST_PAGES)
    except ArmCallError as error:
        raise RunFailed(f"could not list subscriptions: {error}") from error
    listed: dict[str, _ListedSubscription] = {}
    try:
        for entry in entries:
            subscription_id = str(entry["subscriptionId"])
            listed[subscription_id.lower()] = _ListedSubscription(
                subscription_id=subscription_id,
                display_name=str(entry.get("displayName") or subscription_id),
                state=str(entry.get("state") or "Unknown"),
                tenant_id=str(entry.get("tenantId") or "").lower(),
            )
    except (AttributeError, KeyError, TypeError) as error:
        raise RunFailed(f"could not list subscriptions: unexpected response shape ({error!r})") from error
    return listed


async def _read_tree(reader: ArmReader, group_id: str) -> Any:
    url = (
        f"/providers/Microsoft.Management/managementGroups/{quote(group_id, safe='')}"
        f"?api-version={api_versions.MANAGEMENT_GROUPS}&$expand=children&$recurse=true"
    )
    try:
        tree = await reader.get_json(url)
    except ArmCallError as error:
        reason = _sentence(str(error))
        raise RunFailed(f"could not read management group {group_id!r}: {reason} {_SCOPE_ADVICE}") from error
    if not isinstance(tree, dict):
        raise RunFailed(f"management group {group_id!r} came back in an unexpected shape (not an object)")
    return tree


def _tenant_of(group: Any) -> str:
    properties = group.get("properties") if isinstance(group, dict) else None
    tenant_id = properties.get("tenantId") if isinstance(properties, dict) else None
    return tenant_id.lower() if isinstance(tenant_id, str) else ""


def _state(listed: dict[str, _ListedSubscription], key: str) -> str:
    entry = listed.get(key)
    return entry.state if entry else "Unknown"


def _sentence(text: str) -> str:
    """`text` ending in one full stop, however ARM's message ended (it often has its own)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."
