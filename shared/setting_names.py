"""Environment names one edit away from a setting: `MANAGEMENT_GROUP_ID=corp` is ignored, so say so.

A misspelt setting is the quiet kind of wrong: the default applies (here: the whole tenant) and
nothing fails. Names that differ only in case, or by one inserted, deleted, replaced or swapped
character, are named with the setting they were probably meant to be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .config import APP_SETTINGS
from .schedule import schedule_warnings


def near_misses(environ: Mapping[str, str], known: Iterable[str] = APP_SETTINGS) -> list[str]:
    """One warning per environment name that looks like a known setting but is not one."""
    known_names = tuple(dict.fromkeys(known))
    exact = set(known_names)
    warnings = []
    for name in sorted(environ):
        if name in exact:
            continue
        meant = next((setting for setting in known_names if _one_edit_apart(name.upper(), setting.upper())), None)
        if meant is not None:
            warnings.append(f"{name} is not a setting and is ignored; did you mean {meant}?")
    return warnings


def _one_edit_apart(a: str, b: str) -> bool:
    """Equal (here: after upper-casing), or one insertion, deletion, substitution or transposition apart."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        first, second = diffs[0], diffs[-1]
        return len(diffs) == 2 and second == first + 1 and a[first] == b[second] and a[second] == b[first]
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(shorter, longer, strict=False)) if x != y), len(shorter))
    return shorter[i:] == longer[i + 1 :]


def setting_warnings(environ: Mapping[str, str]) -> list[str]:
    """What runs and the settings listing warn about: misspelt names, a schedule the missed-run alert cannot watch."""
    return near_misses(environ) + schedule_warnings(environ)
