"""Azure clouds the monitor can run in: where ARM lives and which token audience it wants."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str
    # Tokens are always requested for the cloud's own ARM audience, even when
    # ARM_ENDPOINT points elsewhere (a proxy, or the local emulator).
    credential_scope: str
    authority_host: str
    # Where people open the cloud's portal (deep links in chat alerts).
    portal_url: str = "https://portal.azure.com"


CLOUDS: dict[str, Cloud] = {
    cloud.name.lower(): cloud
    for cloud in (
        Cloud(
            "AzureCloud",
            "https://management.azure.com",
            "https://management.azure.com/.default",
            "login.microsoftonline.com",
            "https://portal.azure.com",
        ),
        Cloud(
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            "https://management.chinacloudapi.cn/.default",
            "login.chinacloudapi.cn",
            "https://portal.azure.cn",
        ),
        Cloud(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net/.default",
            "login.microsoftonline.us",
            "https://portal.azure.us",
        ),
    )
}

_ALIASES = {"public": "azurecloud", "china": "azurechinacloud", "usgov": "azureusgovernment"}


def find_cloud(name: str) -> Cloud | None:
    key = name.strip().lower()
    return CLOUDS.get(_ALIASES.get(key, key))
