"""Reading security contacts through the real SecurityCenter client pipeline."""

import asyncio

import pytest

from emulator.faults import Fault
from emulator.tenant import API_2017, API_2020, API_2023
from shared.azure_clients import AzureClients, build_credential
from shared.contacts import ContactReader, ContactReadError
from tests.conftest import TenantBuilder, good_contact


@pytest.fixture
def read_all(settings_for):
    """Read subscriptions one after another with one reader; returns the contacts and the reader."""

    async def read(subscription_ids, app_settings):
        settings = settings_for(**app_settings)
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
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


def test_where_2023_is_not_offered_the_reader_falls_back_to_2020_once(emulator, use_tenant, read_all):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    contacts, reader = read_all(subs)

    assert {c.api_version for c in contacts} == {API_2020}
    assert all(c.alert_notifications for c in contacts)
    assert len(contact_requests(emulator)) == 4  # one refused 2023 call, then 2020 for each
    assert reader.api_versions_used == {API_2020}


def test_a_subscription_without_contacts_is_not_configured(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant, contact=None)

    assert read_one(sub).configured is False


def test_a_404_for_the_contact_list_means_not_configured(emulator, use_tenant, read_one):
    sub = one_subscription(use_tenant)
    emulator.add_fault(Fault(match="securityContacts", status=404, code="NotFound", times=1))

    assert read_one(sub).configured is False


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
