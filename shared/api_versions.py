"""The ARM api-versions the monitor speaks, defined once."""

MANAGEMENT_GROUPS = "2023-04-01"
SUBSCRIPTIONS = "2022-12-01"
# Resource provider metadata (GET /providers/{namespace}): which api-versions a type offers.
PROVIDERS = "2021-04-01"
# GET /tenants: the tenants the identity can see, with display names.
TENANTS = "2022-12-01"

CONTACTS_2017 = "2017-08-01-preview"
CONTACTS_2020 = "2020-01-01-preview"
CONTACTS_2023 = "2023-12-01-preview"
# What CONTACTS_API_VERSION may name, newest first; 2017 is only ever parsed, never asked for.
SUPPORTED_CONTACTS = (CONTACTS_2023, CONTACTS_2020)
# Where an api-version is not offered, the one to try instead.
CONTACTS_FALLBACK = {CONTACTS_2023: CONTACTS_2020}
