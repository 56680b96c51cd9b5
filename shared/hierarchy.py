"""Finding every subscription under the scope management groups.

One recursive GET per scope group returns its whole subtree, and one paged
subscription list supplies states, so the call count does not grow with the
number of groups.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from azure.mgmt.managementgroups import ManagementGroupsMgmtClient

from .arm_errors import describe_exception, describe_response
from .errors import RunFailed
from .models import Subscription

log = logging.getLogger(__name__)

SUBSCRIPTIONS_API_VERSION = "2022-12-01"
_GROUP_TYPE = "microsoft.management/managementgroups"
_SUBSCRIPTION_TYPE = "/subscriptions"


@dataclass(frozen=True)
class Discovery:
    # The management group ids actually walked (the tenant root when none were configured).
    scope: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]


def discover(client: ManagementGroupsMgmtClient, group_ids: Iterable[str]) -> Discovery:
    scope = tuple(group_ids) or (find_root_group_id(client),)
    found: dict[str, Subscription] = {}
    for group_id in scope:
        for subscription in _walk(client, group_id):
            key = subscription.subscription_id.lower()
            known = found.get(key)
            # Overlapping scopes: keep the path from the outermost group.
            if known is None or len(subscription.management_group_path) > len(known.management_group_path):
                found[key] = subscription
    states = subscription_states(client)
    subscriptions = tuple(
        Subscription(s.subscription_id, s.display_name, s.management_group_path, states.get(key, "Unknown"))
        for key, s in found.items()
    )
    return Discovery(scope=scope, subscriptions=subscriptions)


def find_root_group_id(client: ManagementGroupsMgmtClient) -> str:
    """The tenant root group's id is the tenant id, which every visible group reports."""
    try:
        for group in client.management_groups.list():
            tenant_id = group.properties.tenant_id if group.properties else None
            if tenant_id:
                return tenant_id
    except (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as error:
        raise RunFailed(
            f"could not list management groups to find the tenant root: {describe_exception(error)}"
        ) from error
    raise RunFailed(
        "no management groups are visible to this identity; grant it Security Reader on the tenant root "
        "group or set MANAGEMENT_GROUP_IDS to the groups it can read"
    )


def _walk(client: ManagementGroupsMgmtClient, group_id: str) -> Iterator[Subscription]:
    try:
        group = client.management_groups.get(group_id, expand="children", recurse=True)
    except (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as error:
        raise RunFailed(
            f"could not read management group {group_id!r}: {describe_exception(error)}. "
            "Check the id and that the identity has a reader role on it."
        ) from error
    name = (group.properties.display_name if group.properties else None) or group.name or group_id
    children = (group.properties.children if group.properties else None) or []
    stack: list[tuple[Any, tuple[str, ...]]] = [(child, (name,)) for child in reversed(children)]
    while stack:
        child, path = stack.pop()
        # The SDK hands back an enum member for known types and a plain string otherwise.
        child_type = str(getattr(child.type, "value", child.type) or "").lower()
        if child_type == _SUBSCRIPTION_TYPE:
            subscription_id = child.name or str(child.id).rsplit("/", 1)[-1]
            yield Subscription(subscription_id, child.display_name or subscription_id, path)
        elif child_type == _GROUP_TYPE:
            child_path = (*path, child.display_name or child.name)
            stack.extend((grandchild, child_path) for grandchild in reversed(child.children or []))
        else:
            log.warning("ignoring management group child of unknown type %r: %s", child.type, child.id)


def subscription_states(client: ManagementGroupsMgmtClient) -> dict[str, str]:
    """State per subscription id (lowercase), from the caller's paged subscription list."""
    states: dict[str, str] = {}
    url = f"/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
    while url:
        try:
            response = client.send_request(HttpRequest("GET", url))
        except (ServiceRequestError, ServiceResponseError, ClientAuthenticationError, HttpResponseError) as error:
            raise RunFailed(f"could not list subscriptions: {describe_exception(error)}") from error
        if response.status_code != 200:
            raise RunFailed(f"could not list subscriptions: {describe_response(response.status_code, response.text())}")
        try:
            page = response.json()
            for entry in page.get("value") or []:
                states[str(entry["subscriptionId"]).lower()] = str(entry.get("state") or "Unknown")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RunFailed(f"could not list subscriptions: unreadable response ({error})") from error
        url = page.get("nextLink") or ""
    return states
