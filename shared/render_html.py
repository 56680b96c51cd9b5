"""The report as one self-contained HTML page, for a person opening the check URL in a browser.

No scripts, no external assets, every piece of report text escaped: display names, group names
and messages come from the tenant, where anyone with write access can put markup in them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html import escape

from .models import Finding, Report, Status, SubscriptionResult

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2328;
  margin: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #59636e; margin: 0 0 16px; }
.verdict { font-size: 16px; font-weight: 600; margin: 12px 0 20px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 0; padding: 0; list-style: none; }
.counts li { min-width: 110px; padding: 10px 14px; border-radius: 6px; border: 1px solid #d1d9e0; }
.counts .number { display: block; font-size: 26px; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid #d1d9e0; }
th { background: #f6f8fa; font-weight: 600; }
td.id { white-space: nowrap; }
td.id, code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
td ul { margin: 0; padding-left: 18px; }
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
dl.fixes dt { font-weight: 600; margin-top: 10px; }
dl.fixes dd { margin: 2px 0 0 0; }
"""

# The page allows exactly its own stylesheet and nothing else (no scripts, images, fonts,
# frames or form targets), so even a rendering mistake cannot run or load anything.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_PAGE_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
# frame-ancestors only works as a header, not in the page's <meta>.
CONTENT_SECURITY_POLICY = f"{_PAGE_POLICY}; frame-ancestors 'none'"

# Problems first within a group: the reader came for them.
_ORDER = {Status.ERROR: 0, Status.FAIL: 1, Status.SKIPPED: 2, Status.PASS: 3}
_NO_GROUP = "(not found under the scope)"


def report_to_html(report: Report) -> str:
    summary = report.summary
    title = (
        f"Security contacts: {summary['fail']} fail, {summary['error']} error, "
        f"{summary['pass']} pass, {summary['skipped']} skipped"
    )
    scope = ", ".join(report.scope) or "tenant root group"
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
        *(_group_section(path, results, fixes) for path, results in _by_group(report.results)),
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


def _verdict(summary: dict[str, int]) -> str:
    problems = summary["fail"] + summary["error"]
    if not problems:
        return "Every checked subscription passes."
    noun = "subscription needs" if problems == 1 else "subscriptions need"
    return f"{problems} {noun} attention."


def _by_group(results: Iterable[SubscriptionResult]) -> list[tuple[str, list[SubscriptionResult]]]:
    groups: dict[str, list[SubscriptionResult]] = {}
    for result in results:
        path = " / ".join(result.subscription.management_group_path) or _NO_GROUP
        groups.setdefault(path, []).append(result)
    return [
        (path, sorted(members, key=lambda r: (_ORDER[r.status], r.subscription.display_name.lower())))
        for path, members in sorted(groups.items(), key=lambda item: item[0].lower())
    ]


def _group_section(path: str, results: list[SubscriptionResult], fixes: dict[tuple[str, str], str]) -> str:
    rows = "\n".join(_row(result, fixes) for result in results)
    return (
        f"<section>\n<h2>{escape(path)}</h2>\n<table>\n"
        "<thead><tr><th>Status</th><th>Subscription</th><th>Subscription ID</th><th>State</th>"
        "<th>Details</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>\n</section>"
    )


def _row(result: SubscriptionResult, fixes: dict[tuple[str, str], str]) -> str:
    sub = result.subscription
    status = result.status.value
    return (
        f'<tr class="{status}"><td><span class="badge">{status.upper()}</span></td>'
        f"<td>{escape(sub.display_name or '?')}</td>"
        f'<td class="id">{escape(sub.subscription_id)}</td>'
        f"<td>{escape(sub.state)}</td>"
        f"<td>{_details(result, fixes)}</td></tr>"
    )


def _details(result: SubscriptionResult, fixes: dict[tuple[str, str], str]) -> str:
    if not result.findings:
        return escape(result.reason or "")
    items = [
        f'<li><a href="#{fixes[(finding.rule, finding.fix)]}"><code>{escape(finding.rule)}</code></a> '
        f"{escape(finding.message)} "
        f'<span class="severity">({escape(_rating(finding))})</span></li>'
        for finding in result.findings
    ]
    return "<ul>" + "".join(items) + "</ul>"


def _rating(finding: Finding) -> str:
    return ", ".join((finding.severity, *(f"CIS {control}" for control in finding.cis)))


def _fixes(results: Iterable[SubscriptionResult]) -> dict[tuple[str, str], str]:
    # Most fixes are the same for every subscription: list each once, linked from the findings.
    # The anchors are numbered, so no report text ever ends up inside an attribute.
    anchors: dict[tuple[str, str], str] = {}
    for result in sorted(results, key=lambda r: _ORDER[r.status]):
        for finding in result.findings:
            anchors.setdefault((finding.rule, finding.fix), f"fix-{len(anchors) + 1}")
    return anchors


def _fix_section(fixes: dict[tuple[str, str], str]) -> str:
    if not fixes:
        return ""
    entries = "\n".join(
        f'<dt id="{anchor}"><code>{escape(rule)}</code></dt><dd>{escape(fix)}</dd>'
        for (rule, fix), anchor in fixes.items()
    )
    return f'<section>\n<h2>How to fix</h2>\n<dl class="fixes">\n{entries}\n</dl>\n</section>'
