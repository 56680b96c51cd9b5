"""`python -m shared …` from a checkout: the installed command's sub-commands plus the checkout-only `demo`."""

import sys

from .cli import main
from .demo import DEMO_COMMAND

sys.exit(main(prog="python -m shared", extra=(DEMO_COMMAND,)))
