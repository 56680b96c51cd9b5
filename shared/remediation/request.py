"""The exact write a plan sends: the PUT itself and the same request as an `az rest` command line."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

# The only resource the command ever writes; the 2023 API accepts no other name.
CONTACT_NAME = "default"


def contact_path(subscription_id: str, api_version: str, name: str | None = CONTACT_NAME) -> str:
    resource = f"/{name}" if name else ""
    return (
        f"/subscriptions/{subscription_id}/providers/Microsoft.Security/securityContacts{resource}"
        f"?api-version={api_version}"
    )


@dataclass(frozen=True)
class ContactPut:
    subscription_id: str
    api_version: str
    body: dict[str, Any]

    @property
    def path(self) -> str:
        return contact_path(self.subscription_id, self.api_version)

    def url(self, arm_endpoint: str) -> str:
        return arm_endpoint.rstrip("/") + self.path

    def body_json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)

    def az_rest(self, arm_endpoint: str) -> str:
        """The same request for a reviewer to run by hand (as their own `az login`)."""
        return " ".join(
            [
                "az rest --method put",
                "--url",
                shlex.quote(self.url(arm_endpoint)),
                "--body",
                shlex.quote(self.body_json()),
            ]
        )

    def to_dict(self, arm_endpoint: str) -> dict[str, Any]:
        return {"method": "PUT", "url": self.url(arm_endpoint), "body": self.body, "azRest": self.az_rest(arm_endpoint)}
