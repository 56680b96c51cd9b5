"""A local stand-in for the Azure endpoints the monitor talks to.

It serves Azure Resource Manager over HTTPS (management groups, subscriptions,
Defender for Cloud security contacts) and an App Service managed-identity token
endpoint, so the real SDK clients and DefaultAzureCredential can be exercised
without an Azure tenant. It is a development tool and is never deployed.
"""

from pathlib import Path

from .server import EmulatorServer
from .tenant import Tenant

SCENARIOS = Path(__file__).parent / "scenarios"
SAMPLE_SCENARIO = SCENARIOS / "sample.json"

__all__ = ["SAMPLE_SCENARIO", "SCENARIOS", "EmulatorServer", "Tenant"]
