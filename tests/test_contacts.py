"""Reading security contacts through the real SecurityCenter client pipeline."""

import pytest

from emulator.faults import Fault
from emulator.tenant import API_2017, API_2020, API_2023
from shared.azure_clients import AzureClients, build_credential
from shared.contacts import ContactReader, ContactReadError
from tests.conftest import TenantBuilder, good_contact


@pytest.fixture
def reader_for(settings_for):
    opened = []

    def build(**app_settings: str) -> ContactReader:
        settings = settings_for(**app_settings)
        clients = AzureClients.create(settings, build_credential(settings))
        opened.append(clients)
        return ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)

    yield build
    for clients in opened:
        clients.close()


def contact_requests(emulator):
    return [entry for entry in emulator.stats.log if entry[1] == "securityContacts"]


def test_contacts_are_read_with_the_2023_api_through_the_sdk_pipeline(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact(emails=["a@contoso.com", "b@contoso.com"]))
    use_tenant(builder)
    reader = reader_for()

    contact = reader.read(sub)

    assert contact.emails == ("a@contoso.com", "b@contoso.com")
    assert contact.alert_minimal_severity == "Medium"
    assert contact.api_version == API_2023
    assert f"api-version={API_2023}" in contact_requests(emulator)[0][2]


def test_where_2023_is_not_offered_the_reader_falls_back_to_2020_once(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    subs = [builder.subscription(n, contact=good_contact()) for n in range(3)]
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    reader = reader_for()

    contacts = [reader.read(sub) for sub in subs]

    assert {c.api_version for c in contacts} == {API_2020}
    assert all(c.alert_notifications for c in contacts)
    assert len(contact_requests(emulator)) == 4  # one refused 2023 call, then 2020 for each
    assert reader.api_versions_used == {API_2020}


def test_a_subscription_without_contacts_is_not_configured(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=None)
    use_tenant(builder)

    assert reader_for().read(sub).configured is False


def test_a_404_for_the_contact_list_means_not_configured(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=404, code="NotFound", times=1))

    assert reader_for().read(sub).configured is False


def test_contact_lists_are_followed_across_pages(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    items = [{"name": f"c{n}", "properties": {"emails": f"team{n}@contoso.com", "isEnabled": True}} for n in range(3)]
    sub = builder.subscription(1, raw_contacts={API_2023: items})
    builder.tenant.page_size = 2
    use_tenant(builder)

    contact = reader_for().read(sub)

    assert contact.emails == ("team0@contoso.com", "team1@contoso.com", "team2@contoso.com")


def test_a_denied_subscription_is_an_error_naming_the_reason(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact(), deny_contacts=True)
    use_tenant(builder)

    with pytest.raises(ContactReadError, match="HTTP 403 AuthorizationFailed"):
        reader_for().read(sub)


def test_throttling_is_retried_after_the_time_arm_asks_for(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=1, retry_after=1))

    contact = reader_for().read(sub)

    assert contact.configured
    first, second = contact_requests(emulator)
    assert (first[3], second[3]) == (429, 200)
    assert second[0] - first[0] >= 0.95


def test_server_errors_are_retried(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=503, times=2, retry_after=0))

    assert reader_for().read(sub).configured
    assert [entry[3] for entry in contact_requests(emulator)] == [503, 503, 200]


def test_persistent_throttling_ends_as_an_error_not_a_pass(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=None, retry_after=0.01))

    with pytest.raises(ContactReadError, match="HTTP 429 TooManyRequests"):
        reader_for().read(sub)


def test_a_malformed_body_is_an_error(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", malformed=True, status=200))

    with pytest.raises(ContactReadError, match="not valid JSON"):
        reader_for().read(sub)


def test_an_uninterpretable_contact_is_an_error(emulator, use_tenant, reader_for):
    builder = TenantBuilder()
    sub = builder.subscription(1, raw_contacts={API_2023: [{"name": "default", "properties": {"emails": 42}}]})
    use_tenant(builder)

    with pytest.raises(ContactReadError, match="unexpected security contact format"):
        reader_for().read(sub)
