"""Finding every subscription under the scope management groups.

One recursive GET per scope group returns its whole subtree, and one paged
subscription list supplies states, so the call count does not grow with the
number of groups. The tree is read as JSON through the management-groups
client's own pipeline: typed models for tens of thousands of nodes cost more
CPU than the walk itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from azure.core.rest import HttpRequest
from azure.mgmt.managementgroups.aio import ManagementGroupsMgmtClient

from .arm_errors import ARM_CALL_ERRORS, describe_exception, describe_response
from .errors import RunFailed
from .models import Subscription

log = logging.getLogger(__name__)

MANAGEMENT_GROUPS_API_VERSION = "2023-04-01"
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
_GROUP_TYPE = "microsoft.management/managementgroups"
_SUBSCRIPTION_TYPE = "/subscriptions"


@dataclass(frozen=True)
class Discovery:
    # The management group ids actually walked (the tenant root when none were configured).
    scope: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]


async def discover(client: ManagementGroupsMgmtClient, group_ids: Iterable[str]) -> Discovery:
    scope = tuple(group_ids) or (await find_root_group_id(client),)
    found: dict[str, Subscription] = {}
    for group_id in scope:
        tree = await _get_json(
            client,
            f"/providers/Microsoft.Management/managementGroups/{quote(group_id, safe='')}"
            f"?api-version={MANAGEMENT_GROUPS_API_VERSION}&$expand=children&$recurse=true",
            f"could not read management group {group_id!r}",
            "Check the id and that the identity has a reader role on it.",
        )
        for subscription in subscriptions_in(tree, group_id):
            key = subscription.subscription_id.lower()
            known = found.get(key)
            # Overlapping scopes: keep the path from the outermost group.
            if known is None or len(subscription.management_group_path) > len(known.management_group_path):
                found[key] = subscription
    states = await subscription_states(client)
    subscriptions = tuple(
        Subscription(s.subscription_id, s.display_name, s.management_group_path, states.get(key, "Unknown"))
        for key, s in found.items()
    )
    return Discovery(scope=scope, subscriptions=subscriptions)


async def find_root_group_id(client: ManagementGroupsMgmtClient) -> str:
    """The tenant root group's id is the tenant id, which every visible group reports."""
    try:
        async for group in client.management_groups.list():
            tenant_id = group.properties.tenant_id if group.properties else None
            if tenant_id:
                return tenant_id
    except ARM_CALL_ERRORS as error:
        raise RunFailed(
            f"could not list management groups to find the tenant root: {describe_exception(error)}"
        ) from error
    raise RunFailed(
        "no management groups are visible to this identity; grant it Security Reader on the tenant root "
        "group or set MANAGEMENT_GROUP_IDS to the groups it can read"
    )


def subscriptions_in(tree: Any, group_id: str) -> Iterator[Subscription]:
    """Subscriptions of an expanded group, each with the display names of the groups above it."""
    try:
        properties = tree.get("properties") or {}
        name = properties.get("displayName") or tree.get("name") or group_id
        stack: list[tuple[Any, tuple[str, ...]]] = [(c, (name,)) for c in reversed(properties.get("children") or [])]
        while stack:
            child, path = stack.pop()
            child_type = str(child.get("type") or "").lower()
            if child_type == _SUBSCRIPTION_TYPE:
                subscription_id = child.get("name") or str(child["id"]).rsplit("/", 1)[-1]
                yield Subscription(subscription_id, child.get("displayName") or subscription_id, path)
            elif child_type == _GROUP_TYPE:
                child_path = (*path, child.get("displayName") or child.get("name"))
                stack.extend((grandchild, child_path) for grandchild in reversed(child.get("children") or []))
            else:
                log.warning(
                    "ignoring management group child of unknown type %r: %s", child.get("type"), child.get("id")
                )
    except (AttributeError, KeyError, TypeError) as error:
        raise RunFailed(f"management group {group_id!r} came back in an unexpected shape ({error!r})") from error


async def subscription_states(client: ManagementGroupsMgmtClient) -> dict[str, str]:
    """State per subscription id (lowercase), from the caller's paged subscription list."""
    states: dict[str, str] = {}
    url = f"/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
    while url:
        page = await _get_json(client, url, "could not list subscriptions")
        try:
            for entry in page.get("value") or []:
                states[str(entry["subscriptionId"]).lower()] = str(entry.get("state") or "Unknown")
            url = page.get("nextLink") or ""
        except (AttributeError, KeyError, TypeError) as error:
            raise RunFailed(f"could not list subscriptions: unexpected response shape ({error!r})") from error
    return states


async def _get_json(client: ManagementGroupsMgmtClient, url: str, failure: str, advice: str = "") -> Any:
    suffix = f". {advice}" if advice else ""
    try:
        response = await client.send_request(HttpRequest("GET", url))
    except ARM_CALL_ERRORS as error:
        raise RunFailed(f"{failure}: {describe_exception(error)}{suffix}") from error
    if response.status_code != 200:
        raise RunFailed(f"{failure}: {describe_response(response.status_code, response.text())}{suffix}")
    try:
        return response.json()
    except ValueError as error:
        raise RunFailed(f"{failure}: the response is not valid JSON") from error
