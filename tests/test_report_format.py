"""The terminal table fits the terminal, lists problems first, and shows no control characters; CSV is safe to open."""

import csv
import io
import re

import pytest

from shared.models import Finding, Report, Status, Subscription, SubscriptionResult
from shared.report_format import _cells as cells
from shared.report_format import to_csv, to_table

LONG_PATH = ("Tenant Root Group", "Contoso Holdings International", "Landing Zones (production)", "Corp Finance EMEA")
LONG_MESSAGE = (
    "No security contact is configured: only Defender for Cloud's default emails to the subscription owners "
    "(high-severity alerts) go out, and no security mailbox is told anything."
)
FIX = "In Defender for Cloud > Environment settings > <subscription> > Email notifications, " * 3


def sub(number: int, name: str, path: tuple[str, ...] = LONG_PATH) -> Subscription:
    return Subscription(f"00000000-0000-4000-8000-{number:012d}", name, path, "Enabled")


def finding(rule: str = "contact-email", message: str = LONG_MESSAGE) -> Finding:
    return Finding(rule, message, FIX)


def sample_report(*extra: SubscriptionResult) -> Report:
    results = (
        SubscriptionResult(sub(1, "aaa-passing-subscription"), Status.PASS),
        SubscriptionResult(sub(2, "a-rather-long-subscription-display-name-for-finance"), Status.FAIL, (finding(),)),
        SubscriptionResult(sub(3, "zz-skipped"), Status.SKIPPED, reason="subscription is Disabled"),
        SubscriptionResult(sub(4, "unreadable"), Status.ERROR, reason="could not read security contacts: " + "x" * 300),
        SubscriptionResult(sub(5, "bbb-failing"), Status.FAIL, (finding("owner-notifications", "Owner is off."),)),
        *extra,
    )
    return Report(("tenant-root",), results, "2026-11-30T07:00:00+00:00")


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("show_all", [False, True])
def test_no_line_is_wider_than_the_terminal(width, show_all):
    table = to_table(sample_report(), width, show_all)

    assert max(cells(line) for line in table.splitlines()) <= width
    assert "a-rather-long-subscription" in table


def test_wide_characters_count_as_two_columns():
    wide = SubscriptionResult(sub(6, "経理部のサブスクリプション本番環境の請求書"), Status.FAIL, (finding(),))

    table = to_table(sample_report(wide), 80)

    assert max(cells(line) for line in table.splitlines()) <= 80
    assert "経理部" in table


def test_failures_come_first_then_errors_and_passes_only_with_all():
    folded = to_table(sample_report(), 100, show_all=False).splitlines()
    listed = to_table(sample_report(), 100, show_all=True).splitlines()

    statuses = [line.split()[0] for line in listed[1:] if line[:1].isalpha()]
    assert statuses[: statuses.index("PASS") + 1] == ["FAIL", "FAIL", "ERROR", "SKIPPED", "PASS"]
    assert not any(line.startswith(("PASS", "SKIPPED")) for line in folded)
    assert "Not listed: 1 pass and 1 skipped (--all lists them)." in folded


def test_details_sit_on_indented_lines_under_their_row():
    lines = to_table(sample_report(), 80).splitlines()

    row = next(index for index, line in enumerate(lines) if line.startswith("FAIL") and "bbb-failing" in line)
    assert lines[row + 1] == "         owner-notifications: Owner is off."


def test_each_fix_is_printed_once_however_many_subscriptions_need_it():
    table = to_table(sample_report(), 100)

    assert table.count("How to fix:") == 1
    assert table.count("  contact-email: In Defender for Cloud") == 1


def test_no_escape_or_bidi_character_from_the_tenant_reaches_the_table_or_the_csv():
    hostile = SubscriptionResult(
        sub(7, "evil\x1b[2J\x1b]0;pwned\x07\u202ename", ("Root", "grp\x1b[31mred")),
        Status.FAIL,
        (finding(message="bad\x1b[1mbold\nfake row"),),
    )

    for text in (to_table(sample_report(hostile), 100, show_all=True), to_csv(sample_report(hostile))):
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert "\x07" not in text
    assert "fake row" in to_table(sample_report(hostile), 100).split("evil")[1].splitlines()[1]


def test_the_csv_has_a_row_per_subscription_problems_first_and_no_formulas():
    formula = SubscriptionResult(sub(8, '=HYPERLINK("http://x")'), Status.FAIL, (finding(),))

    rows = list(csv.DictReader(io.StringIO(to_csv(sample_report(formula)))))

    assert [row["status"] for row in rows] == ["fail", "fail", "fail", "error", "skipped", "pass"]
    assert len(rows) == 6
    assert {row["displayName"] for row in rows} >= {'\'=HYPERLINK("http://x")'}
    assert rows[0]["managementGroupPath"] == " / ".join(LONG_PATH)


def test_the_summary_names_the_scope_by_its_display_name():
    report = Report(
        ("7f3c1a52-9d4e-4b8a-8f21-3c5d6e7a8b90",), (), "2026-11-30T07:00:00+00:00", scope_names=("Tenant Root Group",)
    )

    assert "(scope: Tenant Root Group)" in to_table(report, 100)


# -- the group column: a cut path keeps whole innermost group names ---------------------------------------------------

ROOT = ("Tenant Root Group", "Contoso")
DEMO_PATHS = {
    "corp-finance": (*ROOT, "Landing Zones", "Corp"),
    "online-partner-portal": (*ROOT, "Landing Zones", "Online"),
    "management-prod": (*ROOT, "Platform"),
    "sandbox-dev": (*ROOT, "Sandbox"),
}
ROW = re.compile(r"^(?:FAIL|ERROR|PASS|SKIPPED) +(\S+) +[0-9a-f-]{36}  (.*)$")


def group_cells(table: str) -> dict[str, str]:
    return {match[1]: match[2] for match in map(ROW.match, table.splitlines()) if match}


def demo_like_report() -> Report:
    results = tuple(
        SubscriptionResult(sub(number, name, path), Status.FAIL, (finding("owner-notifications", "Owner is off."),))
        for number, (name, path) in enumerate(DEMO_PATHS.items(), 1)
    )
    return Report(("tenant-root",), results, "2026-11-30T07:00:00+00:00")


def is_whole_path_suffix(cell: str, path: tuple[str, ...]) -> bool:
    """The whole path, "… / " and its last groups whole, or the innermost group (clipped with "…" at its end)."""
    whole = " / ".join(path)
    if cell == whole:
        return True
    if cell.startswith("… / "):
        return any(cell[len("… / ") :] == " / ".join(path[start:]) for start in range(1, len(path)))
    return cell == path[-1] or (cell.endswith("…") and path[-1].startswith(cell[:-1]))


@pytest.mark.parametrize("width", [80, 100])
def test_a_cut_group_path_keeps_whole_innermost_group_names(width):
    cells_by_name = group_cells(to_table(demo_like_report(), width))

    assert set(cells_by_name) == set(DEMO_PATHS)
    for name, cell in cells_by_name.items():
        assert is_whole_path_suffix(cell, DEMO_PATHS[name]), (name, cell)


def test_at_80_columns_the_group_column_shows_the_innermost_group_the_same_way_in_every_row():
    # "… / Platform" is wider than the 10-column group: every cut path shows its innermost name alone.
    assert group_cells(to_table(demo_like_report(), 80)) == {
        "corp-finance": "Corp",
        "online-partner-portal": "Online",
        "management-prod": "Platform",
        "sandbox-dev": "Sandbox",
    }


def test_where_every_innermost_group_fits_behind_an_ellipsis_each_cut_path_is_marked():
    paths = {name: path for name, path in DEMO_PATHS.items() if path[-1] in ("Corp", "Online")}
    report = Report(
        ("tenant-root",),
        tuple(SubscriptionResult(sub(n, name, path), Status.FAIL) for n, (name, path) in enumerate(paths.items(), 1)),
        "2026-11-30",
    )

    assert group_cells(to_table(report, 80)) == {"corp-finance": "… / Corp", "online-partner-portal": "… / Online"}


def test_at_100_columns_the_group_column_keeps_as_many_whole_inner_groups_as_fit():
    assert group_cells(to_table(demo_like_report(), 100)) == {
        "corp-finance": "… / Landing Zones / Corp",
        "online-partner-portal": "… / Landing Zones / Online",
        "management-prod": "… / Contoso / Platform",
        "sandbox-dev": "… / Contoso / Sandbox",
    }


def test_an_innermost_group_too_long_for_the_column_is_clipped_at_its_end():
    long_inner = (*ROOT, "Landing Zones", "Corporate Finance and Treasury")
    report = Report(
        ("tenant-root",),
        (
            SubscriptionResult(sub(1, "online-partner-portal", DEMO_PATHS["online-partner-portal"]), Status.FAIL),
            SubscriptionResult(sub(2, "corp-treasury", long_inner), Status.FAIL),
        ),
        "2026-11-30T07:00:00+00:00",
    )

    cell = group_cells(to_table(report, 80))["corp-treasury"]

    assert cell == "Corporate…"
    assert is_whole_path_suffix(cell, long_inner)


def test_a_path_that_fits_is_shown_whole():
    report = Report(
        ("tenant-root",), (SubscriptionResult(sub(1, "corp-finance", ("Root", "Corp")), Status.FAIL),), "2026-11-30"
    )

    assert group_cells(to_table(report, 80)) == {"corp-finance": "Root / Corp"}
