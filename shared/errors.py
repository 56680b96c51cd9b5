"""Failures that stop a whole run (as opposed to one subscription's check)."""


class RunFailed(RuntimeError):
    """The run could not produce a trustworthy report; the CLI exits 2."""
