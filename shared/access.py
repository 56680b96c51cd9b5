"""The role the monitor's identity needs, named the same way in every "missing permission" message.

The deployment grants the custom role by default and Security Reader by choice (docs/deploy.md), so
advice names both, and where the role is needed, so a reader at 9 am knows what to ask for.
"""

from __future__ import annotations

# Both grant the reads the monitor makes; the custom one grants nothing else (docs/deploy.md).
READER_ROLE = "Defender Contact Monitor Reader (or Security Reader)"
TENANT_ROOT = "the tenant root group"


def needs_role(scope: str) -> str:
    """'Defender Contact Monitor Reader (or Security Reader) on <scope>': what to grant, and where."""
    return f"{READER_ROLE} on {scope}"
