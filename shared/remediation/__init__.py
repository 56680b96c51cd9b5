"""`python -m shared fix`: bulk remediation of security contacts from an operator's terminal.

Never imported by the Functions app or shared.monitor: the deployed monitor stays read-only.
"""

from .apply import FixDeclined, run_fix
from .options import FixOptions, FixOptionsError, fix_options, settings_for_fix
from .outcome import FixReport, Outcome, SubscriptionFix
from .plan import ContactPlan, FieldChange, plan_contact
from .request import ContactPut, contact_path

__all__ = [
    "ContactPlan",
    "ContactPut",
    "FieldChange",
    "FixDeclined",
    "FixOptions",
    "FixOptionsError",
    "FixReport",
    "Outcome",
    "SubscriptionFix",
    "contact_path",
    "fix_options",
    "plan_contact",
    "run_fix",
    "settings_for_fix",
]
