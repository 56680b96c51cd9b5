"""The emulator behaves like ARM where the monitor depends on it, including its refusals."""

import threading
import time

import requests

from emulator.faults import Fault
from emulator.tenant import Contact
from tests.conftest import TENANT_ID, TenantBuilder, good_contact


def token(emulator) -> str:
    response = requests.get(
        emulator.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
        headers={"X-IDENTITY-HEADER": emulator.identity_header},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def arm_get(emulator, path, bearer=None, **params):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.get(
        emulator.arm_endpoint + path, params=params, headers=headers, verify=emulator.ca_path, timeout=5
    )


def test_arm_refuses_requests_without_a_token(emulator):
    response = arm_get(emulator, "/subscriptions", **{"api-version": "2022-12-01"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_arm_refuses_tokens_it_did_not_issue(emulator):
    response = arm_get(emulator, "/subscriptions", bearer="forged", **{"api-version": "2022-12-01"})

    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_the_token_endpoint_requires_the_identity_header(emulator):
    response = requests.get(
        emulator.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
        headers={"X-IDENTITY-HEADER": "wrong"},
        timeout=5,
    )

    assert response.status_code == 401


def test_requests_without_api_version_are_rejected_like_arm(emulator):
    response = arm_get(emulator, "/subscriptions", bearer=token(emulator))

    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_management_group_list_pages_with_at_next_link(emulator, use_tenant):
    builder = TenantBuilder()
    builder.tenant.page_size = 2
    use_tenant(builder)
    bearer = token(emulator)

    first = arm_get(
        emulator, "/providers/Microsoft.Management/managementGroups", bearer, **{"api-version": "2023-04-01"}
    )

    body = first.json()
    assert [g["name"] for g in body["value"]] == [TENANT_ID, "contoso"]
    assert "$skiptoken=2" in body["@nextLink"]


def test_recursive_expand_returns_the_whole_subtree_and_plain_expand_one_level(emulator, use_tenant):
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    use_tenant(builder)
    bearer = token(emulator)
    path = "/providers/Microsoft.Management/managementGroups/contoso"

    deep = arm_get(emulator, path, bearer, **{"api-version": "2023-04-01", "$expand": "children", "$recurse": "true"})
    shallow = arm_get(emulator, path, bearer, **{"api-version": "2023-04-01", "$expand": "children"})

    landing = next(c for c in deep.json()["properties"]["children"] if c["name"] == "landing-zones")
    assert landing["children"][0]["children"][0]["type"] == "/subscriptions"
    assert all(c["children"] is None for c in shallow.json()["properties"]["children"])


def test_contacts_are_rendered_in_the_shape_of_the_requested_api_version(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact(emails=["a@contoso.com", "b@contoso.com"]))
    use_tenant(builder)
    bearer = token(emulator)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    v2017 = arm_get(emulator, path, bearer, **{"api-version": "2017-08-01-preview"}).json()["value"]
    v2020 = arm_get(emulator, path, bearer, **{"api-version": "2020-01-01-preview"}).json()
    v2023 = arm_get(emulator, path, bearer, **{"api-version": "2023-12-01-preview"}).json()["value"]

    assert [c["properties"]["email"] for c in v2017] == ["a@contoso.com", "b@contoso.com"]
    assert v2020[0]["properties"]["alertNotifications"] == {"state": "On", "minimalSeverity": "Medium"}
    assert v2023[0]["properties"]["notificationsSources"][0] == {"sourceType": "Alert", "minimalSeverity": "Medium"}
    assert v2023[0]["properties"]["isEnabled"] is True


def test_contacts_are_real_shaped_records_and_the_2020_list_is_a_bare_array(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    bearer = token(emulator)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    v2020 = arm_get(emulator, path, bearer, **{"api-version": "2020-01-01-preview"}).json()
    v2023 = arm_get(emulator, path, bearer, **{"api-version": "2023-12-01-preview"}).json()

    assert isinstance(v2020, list)
    assert set(v2023) == {"value", "nextLink"}
    for record in (v2020[0], v2023["value"][0]):
        assert record["type"] == "Microsoft.Security/securityContacts"
        assert record["location"] == "West Europe"
        assert record["etag"].startswith('"') and record["etag"].endswith('"')


def test_a_subscription_that_never_had_a_contact_can_list_the_system_default(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=Contact.system_default())
    use_tenant(builder)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    (record,) = arm_get(emulator, path, token(emulator), **{"api-version": "2020-01-01-preview"}).json()

    assert record["properties"] == {
        "emails": "",
        "phone": "",
        "alertNotifications": {"state": "On", "minimalSeverity": "High"},
        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
    }


def test_a_china_style_cloud_refuses_2023_with_a_404_listing_what_it_offers(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    builder.tenant.contact_api_versions = ("2020-01-01-preview", "2017-08-01-preview")
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)
    bearer = token(emulator)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    refused = arm_get(emulator, path, bearer, **{"api-version": "2023-12-01-preview"})
    provider = arm_get(emulator, "/providers/Microsoft.Security", bearer, **{"api-version": "2021-04-01"}).json()

    assert refused.status_code == 404
    assert refused.json()["error"] == {
        "code": "InvalidResourceType",
        "message": "The resource type 'securityContacts' could not be found in the namespace 'Microsoft.Security' "
        "for api version '2023-12-01-preview'. The supported api-versions are "
        "'2020-01-01-preview,2017-08-01-preview'.",
    }
    (contacts,) = [t for t in provider["resourceTypes"] if t["resourceType"] == "securityContacts"]
    assert contacts["apiVersions"] == ["2020-01-01-preview", "2017-08-01-preview"]


def test_unsupported_contact_api_versions_get_arms_error(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    response = arm_get(emulator, path, token(emulator), **{"api-version": "2099-01-01"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_injected_throttling_carries_retry_after_and_runs_out(emulator, use_tenant):
    use_tenant(TenantBuilder())
    emulator.add_fault(Fault(match="/subscriptions", status=429, times=1, retry_after=2))
    bearer = token(emulator)

    throttled = arm_get(emulator, "/subscriptions", bearer, **{"api-version": "2022-12-01"})
    after = arm_get(emulator, "/subscriptions", bearer, **{"api-version": "2022-12-01"})

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert after.status_code == 200


def test_admin_endpoints_report_counts_and_accept_faults(emulator, use_tenant):
    use_tenant(TenantBuilder())
    admin = emulator.arm_endpoint + "/_emulator"
    added = requests.post(
        admin + "/faults", json={"match": "/subscriptions", "status": 503}, verify=emulator.ca_path, timeout=5
    )

    failed = arm_get(emulator, "/subscriptions", token(emulator), **{"api-version": "2022-12-01"})
    stats = requests.get(admin + "/stats", verify=emulator.ca_path, timeout=5).json()

    assert added.status_code == 201
    assert failed.status_code == 503
    assert stats["calls"]["subscriptions.list"] == 1


def test_a_contact_change_lands_with_the_nth_read_which_still_answers_the_old_contact(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact(emails=["a@contoso.com"]))
    use_tenant(builder)
    admin = emulator.arm_endpoint + "/_emulator"
    change = {"subscriptionId": sub, "afterReads": 2, "changes": {"emails": ["a@contoso.com", "soc@contoso.com"]}}
    added = requests.post(admin + "/contact-changes", json=change, verify=emulator.ca_path, timeout=5)
    refused = requests.post(
        admin + "/contact-changes",
        json={**change, "changes": {"colour": "red"}},
        verify=emulator.ca_path,
        timeout=5,
    )
    bearer = token(emulator)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    answers = [arm_get(emulator, path, bearer, **{"api-version": "2023-12-01-preview"}) for _ in range(3)]
    emails = [answer.json()["value"][0]["properties"]["emails"] for answer in answers]

    assert (added.status_code, refused.status_code) == (201, 400)
    assert emails == ["a@contoso.com", "a@contoso.com", "a@contoso.com;soc@contoso.com"]


def test_an_unregistered_provider_answers_with_the_code_the_scenario_gives(emulator, use_tenant):
    builder = TenantBuilder()
    sub = builder.subscription(
        1, contact=None, security_provider_registered=False, unregistered_code="Subscription Not Registered"
    )
    use_tenant(builder)
    path = f"/subscriptions/{sub}/providers/Microsoft.Security/securityContacts"

    response = arm_get(emulator, path, token(emulator), **{"api-version": "2023-12-01-preview"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Subscription Not Registered"


def test_a_write_held_past_a_reset_never_lands_on_the_next_tenant(emulator, use_tenant):
    first = TenantBuilder()
    sub = first.subscription(1, contact=good_contact(emails=["old@contoso.com"]))
    use_tenant(first)
    bearer = token(emulator)
    held = Fault(match="securityContacts/default", status=200, delay_seconds=1)
    emulator.add_fault(held)
    body = {"properties": {"emails": "late@contoso.com", "isEnabled": True}}
    answers: list[requests.Response] = []
    late = threading.Thread(
        target=lambda: answers.append(
            requests.put(
                f"{emulator.arm_endpoint}/subscriptions/{sub}/providers/Microsoft.Security/securityContacts/default",
                params={"api-version": "2023-12-01-preview"},
                json=body,
                headers={"Authorization": f"Bearer {bearer}"},
                verify=emulator.ca_path,
                timeout=10,
            )
        )
    )
    late.start()
    deadline = time.monotonic() + 10
    while held.times and time.monotonic() < deadline:  # until the PUT has arrived and is held by the fault
        time.sleep(0.01)
    emulator.reset()  # what the next test's fixture does
    second = TenantBuilder()
    second.subscription(1, contact=good_contact(emails=["next@contoso.com"]))
    use_tenant(second)
    late.join(timeout=10)

    assert answers and answers[0].status_code == 503
    assert emulator.tenant.subscriptions[sub].contact.emails == ["next@contoso.com"]
    assert emulator.tenant.subscriptions[sub].raw_contacts == {}
