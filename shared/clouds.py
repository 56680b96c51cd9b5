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


CLOUDS: dict[str, Cloud] = {
    cloud.name.lower(): cloud
    for cloud in (
        Cloud(
            "AzureCloud",
            "https://management.azure.com",
            "https://management.azure.com/.default",
            "login.microsoftonline.com",
        ),
        Cloud(
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            "https://management.chinacloudapi.cn/.default",
            "login.chinacloudapi.cn",
        ),
        Cloud(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net/.default",
            "login.microsoftonline.us",
        ),
    )
}

_ALIASES = {"public": "azurecloud", "china": "azurechinacloud", "usgov": "azureusgovernment"}


def find_cloud(name: str) -> Cloud | None:
    key = name.strip().lower()
    return CLOUDS.get(_ALIASES.get(key, key))
