"""The report as one self-contained HTML page, for a person opening the check URL in a browser.

What needs attention comes first (failing, then unreadable subscriptions, each grouped by management
group); passing and skipped subscriptions are folded away in <details>, which needs no script.
No scripts, no external assets, every piece of report text escaped: display names, group names
and messages come from the tenant, where anyone with write access can put markup (or control and
bidi characters, which `one_line` removes) in them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from html import escape

from .access import READER_ROLE
from .clouds import CLOUDS
from .display_text import one_line
from .models import Finding, Report, Status, SubscriptionResult
from .portal import portal_link

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2328;
  margin: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 4px; }
h1, h2, td, .meta { overflow-wrap: anywhere; }
.meta, .hint { color: #59636e; margin: 0 0 12px; }
.verdict { font-size: 16px; font-weight: 600; margin: 12px 0 20px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 0; padding: 0; list-style: none; }
.counts li { min-width: 96px; padding: 8px 14px; border-radius: 6px; border: 1px solid #d1d9e0; }
.counts .number { display: block; font-size: 26px; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid #d1d9e0; }
th { background: #f6f8fa; font-weight: 600; }
tr.group th { background: #fff; font-size: 14px; padding: 14px 10px 6px; border-bottom: 2px solid #d1d9e0;
  overflow-wrap: anywhere; }
td.status { width: 5.5em; }
td.link { white-space: nowrap; }
.name { display: block; font-weight: 600; }
.id, code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.id { color: #59636e; white-space: nowrap; }
.state { display: inline-block; margin-left: 6px; color: #953800; font-size: 12px; }
td ul { margin: 0; padding-left: 18px; }
a { color: #0969da; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 700; font-size: 12px; }
.pass .badge, li.pass { background: #dafbe1; color: #116329; }
.fail .badge, li.fail { background: #ffebe9; color: #a40e26; }
.error .badge, li.error { background: #fff1e5; color: #953800; }
.skipped .badge, li.skipped { background: #eff2f5; color: #59636e; }
tr.fail td:first-child { border-left: 4px solid #cf222e; }
tr.error td:first-child { border-left: 4px solid #bc4c00; }
tr.pass td:first-child { border-left: 4px solid #1a7f37; }
tr.skipped td:first-child { border-left: 4px solid #afb8c1; }
.severity { color: #59636e; font-size: 12px; }
.cis { white-space: nowrap; }
.cis[title] { text-decoration: underline dotted; cursor: help; }
details { margin: 20px 0 0; border: 1px solid #d1d9e0; border-radius: 6px; padding: 0 12px; }
details[open] { padding-bottom: 8px; }
summary { cursor: pointer; font-size: 16px; font-weight: 600; padding: 10px 0; }
dl.fixes dt { font-weight: 600; margin-top: 10px; }
dl.fixes dd { margin: 2px 0 0 0; }
@media (max-width: 600px) {
  body { margin: 12px; }
  .counts { gap: 8px; }
  .counts li { min-width: 0; flex: 1 1 0; padding: 6px 8px; }
  .counts .number { font-size: 20px; }
  table, thead, tbody, tr, th, td { display: block; width: auto; }
  thead { display: none; }
  tr { border-bottom: 1px solid #d1d9e0; padding: 6px 0; }
  td { border: none; padding: 2px 8px; }
  tr.group { border-bottom: none; }
  tr.group th { padding: 14px 0 4px; }
  td:empty { display: none; }
  .id { white-space: normal; overflow-wrap: anywhere; }
  tr.fail td, tr.error td, tr.pass td, tr.skipped td { border-left: 4px solid transparent; }
  tr.fail td { border-left-color: #cf222e; }
  tr.error td { border-left-color: #bc4c00; }
  tr.pass td { border-left-color: #1a7f37; }
  tr.skipped td { border-left-color: #afb8c1; }
}
"""

# The page allows exactly its own stylesheet and nothing else (no scripts, images, fonts,
# frames or form targets), so even a rendering mistake cannot run or load anything.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_PAGE_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
# frame-ancestors only works as a header, not in the page's <meta>.
CONTENT_SECURITY_POLICY = f"{_PAGE_POLICY}; frame-ancestors 'none'"

DEFAULT_PORTAL_URL = CLOUDS["azurecloud"].portal_url
_NO_GROUP = "(not found under the scope)"
_ATTENTION = (
    (Status.FAIL, "Failing", "Security alerts from these subscriptions reach nobody, or not everyone they should."),
    (
        Status.ERROR,
        "Could not be checked",
        f"The contact could not be read; most often the monitor's identity lacks {READER_ROLE} there.",
    ),
)
_FOLDED = (
    (Status.PASS, "Passing"),
    (Status.SKIPPED, "Skipped"),
)
_CIS = re.compile(r"^v(\d+(?:\.\d+)*)\s+(\S.*)$")


def report_to_html(report: Report, portal_url: str = DEFAULT_PORTAL_URL) -> str:
    """`portal_url` is the cloud's portal (Settings.cloud.portal_url), the base of each subscription's link."""
    summary = report.summary
    title = (
        f"Security contacts: {summary['fail']} fail, {summary['error']} error, "
        f"{summary['pass']} pass, {summary['skipped']} skipped"
    )
    scope = ", ".join(one_line(report.scope_name(index)) for index in range(len(report.scope))) or "tenant root group"
    versions = ", ".join(report.contacts_api_versions) or "none"
    fixes = _fixes(report.results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(_PAGE_POLICY)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Defender for Cloud security contacts</h1>",
        f'<p class="meta">Scope: {escape(scope)} · generated {escape(report.generated_at)} · '
        f"contacts API {escape(versions)}</p>",
        _counts(summary),
        f'<p class="verdict">{escape(_verdict(summary))}</p>',
        _attention(report.results, fixes, portal_url),
        *(
            _folded(status, heading, report.results, fixes, portal_url, open_=not _needs_attention(summary))
            for status, heading in _FOLDED
        ),
        _fix_section(fixes),
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _counts(summary: dict[str, int]) -> str:
    items = [
        f'<li class="{status.value}"><span class="number">{summary[status.value]}</span>{status.value}</li>'
        for status in (Status.FAIL, Status.ERROR, Status.PASS, Status.SKIPPED)
    ]
    items.append(f'<li><span class="number">{summary["total"]}</span>total</li>')
    return '<ul class="counts">' + "".join(items) + "</ul>"


def _needs_attention(summary: dict[str, int]) -> int:
    return summary["fail"] + summary["error"]


def _verdict(summary: dict[str, int]) -> str:
    problems = _needs_attention(summary)
    if not problems:
        return "Every checked subscription passes."
    noun = "subscription needs" if problems == 1 else "subscriptions need"
    return f"{problems} {noun} attention."


def _attention(results: Iterable[SubscriptionResult], fixes: dict[tuple[str, str], str], portal_url: str) -> str:
    sections = []
    for status, heading, hint in _ATTENTION:
        members = [result for result in results if result.status is status]
        if not members:
            continue
        sections.append(
            f'<section class="{status.value}">\n<h2>{heading} ({len(members)})</h2>\n'
            f'<p class="hint">{escape(hint)}</p>\n{_table(members, fixes, portal_url)}\n</section>'
        )
    if not sections:
        return ""
    return '<div id="attention">\n' + "\n".join(sections) + "\n</div>"


def _folded(
    status: Status,
    heading: str,
    results: Iterable[SubscriptionResult],
    fixes: dict[tuple[str, str], str],
    portal_url: str,
    *,
    open_: bool,
) -> str:
    members = [result for result in results if result.status is status]
    if not members:
        return ""
    opened = " open" if open_ else ""
    return (
        f'<details class="{status.value}"{opened}>\n<summary>{heading} ({len(members)})</summary>\n'
        f"{_table(members, fixes, portal_url)}\n</details>"
    )


def _by_group(results: Iterable[SubscriptionResult]) -> list[tuple[str, list[SubscriptionResult]]]:
    groups: dict[str, list[SubscriptionResult]] = {}
    for result in results:
        path = " / ".join(one_line(part) for part in result.subscription.management_group_path) or _NO_GROUP
        groups.setdefault(path, []).append(result)
    return [
        (path, sorted(members, key=lambda r: (_name(r).casefold(), r.subscription.subscription_id)))
        for path, members in sorted(groups.items(), key=lambda item: item[0].casefold())
    ]


def _table(results: list[SubscriptionResult], fixes: dict[tuple[str, str], str], portal_url: str) -> str:
    # One table per section, one row group per management group: the columns line up down the page
    # and a group's name heads its rows without repeating the column headings.
    bodies = "\n".join(
        f'<tbody>\n<tr class="group"><th colspan="4" scope="rowgroup">{escape(path)}</th></tr>\n'
        + "\n".join(_row(result, fixes, portal_url) for result in rows)
        + "\n</tbody>"
        for path, rows in _by_group(results)
    )
    return (
        "<table>\n<thead><tr><th>Status</th><th>Subscription</th><th>Details</th><th>Portal</th></tr></thead>\n"
        f"{bodies}\n</table>"
    )


def _row(result: SubscriptionResult, fixes: dict[tuple[str, str], str], portal_url: str) -> str:
    sub = result.subscription
    status = result.status.value
    state = one_line(sub.state)
    # Enabled is the normal case; anything else (Warned, PastDue, Disabled) is worth a glance.
    state_note = f' <span class="state">{escape(state)}</span>' if state and state != "Enabled" else ""
    link = portal_link(portal_url, sub.subscription_id)
    # The link is built from a validated GUID and the cloud's own portal URL, never from tenant text.
    portal = f'<a href="{escape(link)}" target="_blank" rel="noreferrer">Open in portal</a>' if link else ""
    return (
        f'<tr class="{status}"><td class="status"><span class="badge">{status.upper()}</span></td>'
        f'<td class="sub"><span class="name">{escape(_name(result))}{state_note}</span>'
        f'<span class="id">{escape(sub.subscription_id)}</span></td>'
        f'<td class="details">{_details(result, fixes)}</td>'
        f'<td class="link">{portal}</td></tr>'
    )


def _name(result: SubscriptionResult) -> str:
    return one_line(result.subscription.display_name) or "(unnamed)"


def _details(result: SubscriptionResult, fixes: dict[tuple[str, str], str]) -> str:
    if not result.findings:
        return escape(one_line(result.reason or ""))
    items = [
        f'<li><a href="#{fixes[(finding.rule, finding.fix)]}"><code>{escape(finding.rule)}</code></a> '
        f"{escape(one_line(finding.message))} "
        f'<span class="severity">({_rating(finding)})</span></li>'
        for finding in result.findings
    ]
    return "<ul>" + "".join(items) + "</ul>"


def _rating(finding: Finding) -> str:
    """Escaped HTML: the severity and the newest CIS benchmark's control, older versions on hover."""
    rating = escape(finding.severity)
    if not finding.cis:
        return rating
    newest, *older = sorted(finding.cis, key=_cis_version, reverse=True)
    shown = f"CIS {newest}" + (f" +{len(older)}" if older else "")
    if not older:
        return f'{rating}, <span class="cis">{escape(shown)}</span>'
    hover = "Older CIS benchmarks: " + ", ".join(older)
    return f'{rating}, <span class="cis" title="{escape(hover)}">{escape(shown)}</span>'


def _cis_version(control: str) -> tuple[int, ...]:
    # "v5.0 8.1.13" -> (5, 0); a control without a benchmark version ranks below every versioned one.
    found = _CIS.match(control)
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def _fixes(results: Iterable[SubscriptionResult]) -> dict[tuple[str, str], str]:
    # Most fixes are the same for every subscription: list each once, linked from the findings.
    # The anchors are numbered, so no report text ever ends up inside an attribute.
    pairs = sorted({(finding.rule, finding.fix) for result in results for finding in result.findings})
    return {pair: f"fix-{number}" for number, pair in enumerate(pairs, start=1)}


def _fix_section(fixes: dict[tuple[str, str], str]) -> str:
    if not fixes:
        return ""
    entries = "\n".join(
        f'<dt id="{anchor}"><code>{escape(rule)}</code></dt><dd>{escape(fix)}</dd>'
        for (rule, fix), anchor in fixes.items()
    )
    return f'<section>\n<h2>How to fix</h2>\n<dl class="fixes">\n{entries}\n</dl>\n</section>'
