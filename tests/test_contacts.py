"""Reading security contacts through the real SecurityCenter client pipeline."""

import asyncio

import pytest

from emulator.faults import Fault
from emulator.tenant import API_2017, API_2020, API_2023
from shared.azure_clients import AzureClients, build_credential
from shared.contacts import ContactReader, ContactReadError
from shared.models import ContactState
from tests.conftest import TenantBuilder, good_contact
from tests.golden import live_body


@pytest.fixture
def read_all(settings_for):
    """Read subscriptions one after another with one reader, its api-version decided first as the checker does."""

    async def read(subscription_ids, app_settings):
        settings = settings_for(**app_settings)
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            await reader.decide_api_version()
            return [await reader.read(sub) for sub in subscription_ids], reader

    return lambda subscription_ids, **app_settings: asyncio.run(read(subscription_ids, app_settings))


@pytest.fixture
def read_one(read_all):
    return lambda subscription_id: read_all([subscription_id])[0][0]


def one_subscription(use_tenant, **fields) -> str:
    builder = TenantBuilder()
    sub = builder.subscription(1, **{"contact": good_contact(), **fields})
    use_tenant(builder)
    return sub


def contact_requests(emulator):
    return [entry for entry in emulator.stats.log if entry[1] == "securityContacts"]


def test_contacts_are_read_with_the_2023_api_through_the_sdk_pipeline(emulator, use_tenant, read_one):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact(emails=["a@contoso.com", "b@contoso.com"]))
    use_tenant(builder)
    contact = read_one(sub)

    assert contact.emails == ("a@contoso.com", "b@contoso.com")
    assert contact.alert_minimal_severity == "Medium"
    assert contact.api_version == API_2023
    assert f"api-version={API_2023}" in contact_requests(emulator)[0][2]


def test_where_the_provider_does_not_list_2023_every_read_starts_on_2020(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    contacts, reader = read_all(subs)

    assert {c.api_version for c in contacts} == {API_2020}
    assert all(c.alert_notifications for c in contacts)
    assert len(contact_requests(emulator)) == 3  # no refused 2023 call at all
    assert reader.api_versions_used == {API_2020}


def test_where_the_provider_list_is_unreadable_the_first_refusal_switches_the_run(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    contacts, reader = read_all(subs)

    assert {c.api_version for c in contacts} == {API_2020}
    assert len(contact_requests(emulator)) == 4  # one refused 2023 call, then 2020 for each
    assert reader.api_versions_used == {API_2020}


def test_a_subscription_without_contacts_is_not_configured(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant, contact=None)

    contact = read_one(sub)

    assert contact.state is ContactState.NOT_CONFIGURED


@pytest.mark.parametrize(
    ("code", "message"),
    [("ResourceNotFound", "The resource was not found."), ("NotFound", "Security contact 'default' was not found.")],
)
def test_a_404_that_means_no_contact_resource_is_not_configured(emulator, use_tenant, read_one, code, message):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=404, code=code, message=message, times=1))

    contact = read_one(sub)

    assert contact.state is ContactState.NOT_CONFIGURED
    assert contact.api_version == API_2023


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("SubscriptionNotFound", "The subscription 'x' could not be found."),
        ("NotFound", "The requested path does not exist."),
        ("", ""),
    ],
)
def test_any_other_404_is_an_error_not_a_verdict(emulator, use_tenant, read_one, code, message):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=404, code=code, message=message, times=1))

    with pytest.raises(ContactReadError, match="HTTP 404"):
        read_one(sub)


def test_a_subscription_that_arm_does_not_know_is_an_error_with_a_hint(emulator, use_tenant, read_one):
    one_subscription(use_tenant)

    with pytest.raises(ContactReadError, match=r"SubscriptionNotFound.*moved to another tenant or been deleted"):
        read_one("99999999-0000-4000-8000-000000000000")


def test_an_unregistered_security_provider_is_a_verdict_and_nothing_is_ever_written(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant, security_provider_registered=False)

    contact = read_one(sub)

    assert contact.state is ContactState.PROVIDER_NOT_REGISTERED
    assert emulator.stats.snapshot()["writes"] == []
    assert [entry[3] for entry in contact_requests(emulator)] == [409]


def test_where_2023_is_not_offered_concurrent_reads_make_no_failing_call(emulator, use_tenant, settings_for):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(40)]
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)

    async def read_concurrently():
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            await reader.decide_api_version()
            return await asyncio.gather(*(reader.read(sub) for sub in subs))

    contacts = asyncio.run(read_concurrently())

    assert {c.api_version for c in contacts} == {API_2020}
    refused = [entry for entry in contact_requests(emulator) if f"api-version={API_2023}" in entry[2]]
    assert refused == []
    assert len(contact_requests(emulator)) == 40


def test_one_subscription_refusing_2023_falls_back_alone(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(4)]
    builder.tenant.subscriptions[subs[2]].contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)

    contacts, reader = read_all(subs)

    assert [c.api_version for c in contacts] == [API_2023, API_2023, API_2020, API_2023]
    assert reader.api_versions_used == {API_2020, API_2023}


def test_a_subscription_refusing_the_type_does_not_switch_the_run(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    use_tenant(builder)
    emulator.add_fault(
        Fault(
            match=f"{subs[0]}/providers/Microsoft.Security/securityContacts\\?api-version={API_2023}",
            status=400,
            code="InvalidResourceType",
            message="The resource type could not be found.",
            times=1,
        )
    )

    contacts, _ = read_all(subs)

    assert [c.api_version for c in contacts] == [API_2020, API_2023, API_2023]


def test_a_long_retry_after_is_capped(emulator, use_tenant, read_one, monkeypatch):
    monkeypatch.setattr("shared.azure_clients.RETRY_AFTER_CAP_SECONDS", 0.2)
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=1, retry_after=45))

    assert read_one(sub).configured
    first, second = contact_requests(emulator)
    assert 0.15 <= second[0] - first[0] < 5


def test_throttling_is_retried_exactly_the_configured_number_of_times(emulator, use_tenant, read_one):
    from shared.azure_clients import RETRY_COUNT

    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=503, times=None, retry_after=0.01))

    with pytest.raises(ContactReadError, match="HTTP 503"):
        read_one(sub)
    assert len(contact_requests(emulator)) == RETRY_COUNT + 1


def test_a_next_link_to_another_host_is_an_error_and_is_not_followed(emulator, use_tenant, read_one):
    builder = TenantBuilder()
    items = [{"name": f"c{n}", "properties": {"emails": f"team{n}@contoso.com", "isEnabled": True}} for n in range(3)]
    sub = builder.subscription(1, raw_contacts={API_2023: items})
    builder.tenant.page_size = 2
    builder.tenant.next_link_host = "evil.example"
    use_tenant(builder)

    with pytest.raises(ContactReadError, match=r"refused to follow a link to https://evil\.example"):
        read_one(sub)
    assert len(contact_requests(emulator)) == 1


def test_contact_lists_are_followed_across_pages(emulator, use_tenant, read_one):
    builder = TenantBuilder()
    items = [{"name": f"c{n}", "properties": {"emails": f"team{n}@contoso.com", "isEnabled": True}} for n in range(3)]
    sub = builder.subscription(1, raw_contacts={API_2023: items})
    builder.tenant.page_size = 2
    use_tenant(builder)

    contact = read_one(sub)

    assert contact.emails == ("team0@contoso.com", "team1@contoso.com", "team2@contoso.com")


def test_a_denied_subscription_is_an_error_naming_the_reason(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant, deny_contacts=True)

    with pytest.raises(ContactReadError, match="HTTP 403 AuthorizationFailed"):
        read_one(sub)


def test_throttling_is_retried_after_the_time_arm_asks_for(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=1, retry_after=1))

    contact = read_one(sub)

    assert contact.configured
    first, second = contact_requests(emulator)
    assert (first[3], second[3]) == (429, 200)
    assert second[0] - first[0] >= 0.95


def test_server_errors_are_retried(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=503, times=2, retry_after=0))

    assert read_one(sub).configured
    assert [entry[3] for entry in contact_requests(emulator)] == [503, 503, 200]


def test_persistent_throttling_ends_as_an_error_not_a_pass(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=None, retry_after=0.01))

    with pytest.raises(ContactReadError, match="HTTP 429 TooManyRequests"):
        read_one(sub)


def test_a_malformed_body_is_an_error(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", malformed=True, status=200))

    with pytest.raises(ContactReadError, match="not valid JSON"):
        read_one(sub)


def test_an_uninterpretable_contact_is_an_error(emulator, use_tenant, read_one):
    builder = TenantBuilder()
    sub = builder.subscription(1, raw_contacts={API_2023: [{"name": "default", "properties": {"emails": 42}}]})
    use_tenant(builder)

    with pytest.raises(ContactReadError, match="unexpected security contact format"):
        read_one(sub)


def test_a_refused_api_version_without_an_older_one_is_an_error_that_says_so(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(2)]
    builder.tenant.contact_api_versions = (API_2017, API_2023)
    use_tenant(builder)

    with pytest.raises(
        ContactReadError,
        match=r"api-version 2020-01-01-preview .* not offered here, and no older one that this monitor reads is",
    ):
        read_all(subs, CONTACTS_API_VERSION=API_2020)


# -- the live service's shapes and refusals ----------------------------------------------------------------------------


def test_the_live_2020_list_is_a_bare_array_and_reads_as_the_contact(emulator, use_tenant, read_all):
    sub = one_subscription(use_tenant)
    emulator.add_fault(
        Fault(match="securityContacts", status=200, body=live_body("2020-01-01-preview__list_configured"))
    )

    (contact,), _ = read_all([sub], CONTACTS_API_VERSION=API_2020)

    assert contact.emails == ("secops@contoso.com", "cloud-team@contoso.com")
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Medium")
    assert contact.notified_roles == ("Owner", "ServiceAdmin")
    assert contact.api_version == API_2020


def test_the_emulated_2020_list_is_the_live_bare_array_in_every_fallback(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(2)]
    builder.tenant.contact_api_versions = (API_2020, API_2017)
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)

    contacts, _ = read_all(subs)

    assert [c.state for c in contacts] == [ContactState.CONFIGURED] * 2
    assert [c.api_version for c in contacts] == [API_2020] * 2


def test_the_system_default_record_reads_as_owners_and_high_alerts_without_an_address(emulator, use_tenant, read_all):
    sub = one_subscription(use_tenant)
    emulator.add_fault(
        Fault(match="securityContacts", status=200, body=live_body("2020-01-01-preview__list_system_default"))
    )

    (contact,), _ = read_all([sub], CONTACTS_API_VERSION=API_2020)

    assert contact.state is ContactState.CONFIGURED
    assert (contact.emails, contact.phone) == ((), None)
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "High")
    assert (contact.role_notifications, contact.notified_roles) == (True, ("Owner",))


def test_the_2023_list_is_read_in_either_envelope(emulator, use_tenant, read_all):
    sub = one_subscription(use_tenant)
    enveloped = live_body("2023-12-01-preview__list_configured")
    emulator.add_fault(Fault(match="securityContacts", status=200, body=enveloped["value"]))

    (contact,), _ = read_all([sub])

    assert contact.emails == ("secops@contoso.com",)
    assert (contact.attack_path_notifications, contact.api_version) == (True, API_2023)


@pytest.mark.parametrize("body", [{"values": []}, "default", 42, {"value": {"properties": {}}}])
def test_a_list_in_any_other_envelope_is_an_error_that_says_so(emulator, use_tenant, read_all, body):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=200, body=body))

    with pytest.raises(ContactReadError, match="neither a JSON array nor an object with a 'value' array"):
        read_all([sub])


def test_a_404_refusal_listing_other_versions_falls_back_to_the_listed_one(emulator, use_tenant, read_all):
    sub = one_subscription(use_tenant)
    emulator.add_fault(
        Fault(match=f"api-version={API_2023}", status=404, body=live_body("2023-12-01-preview__china_refusal_404"))
    )

    (contact,), reader = read_all([sub])

    assert contact.api_version == API_2020
    assert [entry[3] for entry in contact_requests(emulator)] == [404, 200]
    assert reader.api_version == API_2023  # the provider still lists 2023: only this subscription falls back


def test_a_404_invalid_resource_type_without_a_list_falls_back_for_that_subscription_alone(
    emulator, use_tenant, read_all
):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(2)]
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))
    emulator.add_fault(
        Fault(match=f"{subs[0]}.*{API_2023}", status=404, code="InvalidResourceType", message="Not here.")
    )

    contacts, reader = read_all(subs)

    assert [c.api_version for c in contacts] == [API_2020, API_2023]
    assert reader.api_version == API_2023


def test_a_china_style_refusal_switches_the_run_when_the_provider_list_is_unreadable(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    builder.tenant.contact_api_versions = (API_2020, API_2017)
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    contacts, reader = read_all(subs)

    assert [c.api_version for c in contacts] == [API_2020] * 3
    assert [entry[3] for entry in contact_requests(emulator)] == [404, 200, 200, 200]
    assert reader.api_version == API_2020
