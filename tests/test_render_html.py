"""The HTML report: one self-contained page, coloured by status, every piece of tenant text shown as text."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape as html_escape
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from emulator import EmulatorServer
from emulator.tenant import EmulatedSubscription
from shared.azure_clients import build_credential
from shared.checker import run_check
from shared.config import load_settings
from shared.demo import EMULATOR_CREDENTIAL_OPTIONS
from shared.models import Finding, Report, Status, Subscription, SubscriptionResult
from shared.portal import portal_url_for
from shared.render_html import CONTENT_SECURITY_POLICY, report_to_html
from tests.chromium import ARTIFACTS, render_page
from tests.conftest import TenantBuilder, good_contact, subscription_id

# Both would change the page title if the browser ever treated them as markup.
HOSTILE_SCRIPT = "<script>document.title='pwned'</script>"
HOSTILE_IMAGE = "<img src=x onerror=\"document.title='pwned'\">"


def result(name: str, status: Status, path: tuple[str, ...] = ("Root", "Corp"), **fields: object) -> SubscriptionResult:
    number = sum(map(ord, name)) % 10_000
    return SubscriptionResult(Subscription(subscription_id(number), name, path, "Enabled"), status, **fields)  # type: ignore[arg-type]


def sample_report() -> Report:
    return Report(
        scope=("corp",),
        generated_at="2026-11-26T07:00:00+00:00",
        contacts_api_versions=("2023-12-01-preview",),
        results=(
            result("corp-hr", Status.PASS),
            result(
                "corp-web",
                Status.FAIL,
                findings=(Finding("contact-email", "No security contact is configured.", "Set an email.", "high"),),
            ),
            result("corp-data", Status.ERROR, ("Root", "Platform"), reason="403 AuthorizationFailed"),
            result("corp-old", Status.SKIPPED, ("Root", "Platform"), reason="subscription is Disabled"),
        ),
    )


class _Elements(HTMLParser):
    """Every element and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def test_the_page_shows_the_counts_and_a_verdict():
    page = report_to_html(sample_report())

    for status, count in (("fail", 1), ("error", 1), ("pass", 1), ("skipped", 1), ("total", 4)):
        assert f'<span class="number">{count}</span>{status}</li>' in page
    assert "2 subscriptions need attention." in page
    assert "<title>Security contacts: 1 fail, 1 error, 1 pass, 1 skipped</title>" in page


def test_the_scope_is_named_by_its_display_name_and_by_its_id_where_the_walk_gave_none():
    named = Report(
        ("11111111-2222-3333-4444-555555555555", "corp"),
        (result("corp-hr", Status.PASS),),
        "2026-11-26T07:00:00+00:00",
        scope_names=("Tenant Root Group", ""),
    )

    page = report_to_html(named)

    assert "Scope: Tenant Root Group, corp" in page
    assert "11111111-2222-3333-4444-555555555555" not in page


def test_a_clean_report_says_everything_passes():
    report = Report(("corp",), (result("corp-hr", Status.PASS),), "2026-11-26T07:00:00+00:00")

    assert "Every checked subscription passes." in report_to_html(report)


def group_headings(page: str) -> list[str]:
    return re.findall(r'<tr class="group"><th colspan="4" scope="rowgroup">(.*?)</th></tr>', page)


def test_what_needs_attention_comes_first_failures_then_errors_each_grouped_by_management_group():
    page = report_to_html(sample_report())

    assert re.findall(r"<h2>(.*?)</h2>", page) == ["Failing (1)", "Could not be checked (1)", "How to fix"]
    assert "lacks Defender Contact Monitor Reader (or Security Reader) there." in page
    assert group_headings(page) == ["Root / Corp", "Root / Platform", "Root / Corp", "Root / Platform"]
    assert page.count("<table>") == 4  # one per section: failing, could not be checked, passing, skipped
    order = [page.index(name) for name in ("corp-web", "corp-data", "corp-hr", "corp-old")]
    assert order == sorted(order)


def test_groups_within_a_section_are_alphabetical_and_subscriptions_by_name():
    failing = Finding("contact-email", "No contact.", "Set an email.", "high")
    report = Report(
        ("root",),
        (
            result("zeta", Status.FAIL, ("Root", "B"), findings=(failing,)),
            result("alpha", Status.FAIL, ("Root", "B"), findings=(failing,)),
            result("mid", Status.FAIL, ("Root", "a"), findings=(failing,)),
        ),
        "2026-11-26T07:00:00+00:00",
    )

    page = report_to_html(report)

    assert group_headings(page) == ["Root / a", "Root / B"]
    assert page.index("mid") < page.index("alpha") < page.index("zeta")


def test_passing_and_skipped_subscriptions_are_folded_away_while_something_needs_attention():
    page = report_to_html(sample_report())

    assert '<details class="pass">\n<summary>Passing (1)</summary>' in page
    assert '<details class="skipped">\n<summary>Skipped (1)</summary>' in page
    passing = page.split('<details class="pass">')[1].split("</details>")[0]
    assert "corp-hr" in passing
    assert "corp-web" not in passing


def test_every_status_there_is_has_a_place_on_the_page():
    results = tuple(result(f"sub-{status.value}", status) for status in Status)

    page = report_to_html(Report(("corp",), results, "2026-11-26T07:00:00+00:00"))

    for status in Status:
        assert (
            f'<tr class="{status.value}"><td class="status"><span class="badge">{status.value.upper()}</span>' in page
        )
        assert f"sub-{status.value}" in page


def test_a_report_where_everything_passes_shows_the_passing_list_open():
    report = Report(("corp",), (result("corp-hr", Status.PASS),), "2026-11-26T07:00:00+00:00")

    page = report_to_html(report)

    assert '<details class="pass" open>' in page
    assert 'id="attention"' not in page


def test_every_subscription_links_to_its_email_notifications_page_in_its_clouds_portal_in_a_new_tab():
    page = report_to_html(sample_report(), portal_url="https://portal.azure.us")
    links = [attrs["href"] for tag, attrs in elements(page) if tag == "a" and not attrs["href"].startswith("#")]

    blade = "#view/Microsoft_Azure_Security/PolicyMenuBlade/~/emailNotifications/subscriptionId"
    expected = {f"https://portal.azure.us/{blade}/{r.subscription.subscription_id}" for r in sample_report().results}
    assert set(links) == expected
    # A new tab keeps the report open while the reader works down the list; never sending the referrer
    # keeps the check URL (it holds the function key) out of the portal's logs.
    portal_anchors = [attrs for tag, attrs in elements(page) if tag == "a" and "portal" in attrs["href"]]
    assert all(attrs.get("rel") == "noreferrer" and attrs.get("target") == "_blank" for attrs in portal_anchors)


def test_the_public_portal_is_the_default_and_an_id_that_is_not_a_guid_gets_no_link():
    odd = SubscriptionResult(Subscription("not-a-guid", "odd", ("Root",), "Enabled"), Status.ERROR, reason="x")
    report = Report(("root",), (odd, result("corp-hr", Status.PASS)), "2026-11-26T07:00:00+00:00")

    links = [attrs["href"] for tag, attrs in elements(report_to_html(report)) if tag == "a"]

    assert len(links) == 1
    assert links[0].startswith("https://portal.azure.com/#view/")
    assert links[0].endswith(report.results[1].subscription.subscription_id)


@pytest.mark.parametrize(
    ("cloud", "portal"),
    [
        (None, "https://portal.azure.com"),
        ("AzureUSGovernment", "https://portal.azure.us"),
        ("china", "https://portal.azure.cn"),
        ("not-a-cloud", "https://portal.azure.com"),  # the run itself fails on it; the page is never made
    ],
)
def test_the_portal_is_the_one_of_the_cloud_the_app_runs_in(cloud, portal):
    assert portal_url_for({} if cloud is None else {"AZURE_CLOUD": cloud}) == portal


def test_display_names_are_shown_on_one_line_without_control_or_bidi_characters():
    name = "pay\u202eroll\x1b[31m\nprod"
    report = Report(
        ("corp",),
        (result(name, Status.ERROR, ("Root", "Co\u2066rp\r\nEU"), reason="denied\u202e\nby policy"),),
        "2026-11-26T07:00:00+00:00",
    )

    page = report_to_html(report)

    assert "payroll [31m prod" in page
    assert group_headings(page) == ["Root / Corp EU"]
    assert "denied by policy" in page
    assert not re.search("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f]", page)


def test_a_subscription_in_an_unusual_state_says_so_next_to_its_name():
    warned = SubscriptionResult(Subscription(subscription_id(7), "warned-sub", ("Root",), "Warned"), Status.FAIL)
    page = report_to_html(Report(("c",), (warned,), "2026-11-26T07:00:00+00:00"))

    assert '<span class="name">warned-sub <span class="state">Warned</span></span>' in page
    assert 'class="state">Enabled' not in report_to_html(sample_report())


def test_findings_link_to_their_fix_listed_once_and_reasons_are_shown():
    twice = Finding("contact-email", "No security contact is configured.", "Set an email.", "high")
    report = Report(
        ("corp",),
        (result("a", Status.FAIL, findings=(twice,)), result("b", Status.FAIL, findings=(twice,))),
        "2026-11-26T07:00:00+00:00",
    )

    page = report_to_html(report)

    assert page.count('<a href="#fix-1"><code>contact-email</code></a>') == 2
    assert page.count('<dt id="fix-1"><code>contact-email</code></dt><dd>Set an email.</dd>') == 1
    assert "403 AuthorizationFailed" in report_to_html(sample_report())


def test_findings_show_their_severity_and_the_newest_cis_control_with_older_benchmarks_on_hover():
    cis = ("v2.0 2.1.19", "v2.1 2.1.18", "v10.0 8.1.13", "v5.0 8.1.13", "v3.0 3.1.13")
    finding = Finding("contact-email", "No contact.", "Set an email.", "high", cis)
    report = Report(("corp",), (result("a", Status.FAIL, findings=(finding,)),), "2026-11-26T07:00:00+00:00")

    assert (
        '<span class="severity">(high, <span class="cis" '
        'title="Older CIS benchmarks: v5.0 8.1.13, v3.0 3.1.13, v2.1 2.1.18, v2.0 2.1.19">CIS v10.0 8.1.13 +4</span>)'
        "</span>"
    ) in report_to_html(report)


def test_a_single_cis_control_is_shown_without_a_hover():
    finding = Finding("contact-email", "No contact.", "Set an email.", "high", ("2.1.19",))
    report = Report(("corp",), (result("a", Status.FAIL, findings=(finding,)),), "2026-11-26T07:00:00+00:00")

    assert '<span class="severity">(high, <span class="cis">CIS 2.1.19</span>)</span>' in report_to_html(report)


def test_subscriptions_outside_any_group_still_get_a_table():
    report = Report(("corp",), (result("", Status.ERROR, (), reason="not found"),), "2026-11-26T07:00:00+00:00")

    page = report_to_html(report)
    assert group_headings(page) == ["(not found under the scope)"]
    assert '<span class="name">(unnamed)</span>' in page


def test_every_piece_of_report_text_is_escaped():
    hostile = HOSTILE_IMAGE
    report = Report(
        scope=(hostile,),
        generated_at=hostile,
        contacts_api_versions=(hostile,),
        results=(
            SubscriptionResult(
                Subscription(hostile, hostile, (hostile, hostile), hostile),
                Status.FAIL,
                (Finding(hostile, hostile, hostile, hostile),),
            ),
            SubscriptionResult(Subscription(hostile, hostile, (hostile,), hostile), Status.ERROR, reason=hostile),
        ),
    )

    page = report_to_html(report)

    assert "<img" not in page
    assert not [tag for tag, _ in elements(page) if tag in ("img", "script")]
    assert page.count("&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;") >= 12


def test_the_page_is_self_contained_and_allows_only_its_own_stylesheet():
    page = report_to_html(sample_report())
    tags = elements(page)

    assert not [tag for tag, _ in tags if tag in ("script", "link", "img", "iframe", "object", "form", "base")]
    links = [attrs["href"] for tag, attrs in tags if tag == "a"]
    assert links
    assert all(link.startswith(("#", "https://portal.azure.com/#view/Microsoft_Azure_Security/")) for link in links)
    assert not [attrs for _, attrs in tags if "style" in attrs or any(name.startswith("on") for name in attrs)]
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = next(attrs["content"] for tag, attrs in tags if tag == "meta" and "http-equiv" in attrs)
    assert f"style-src 'sha256-{digest}'" in policy
    assert policy.startswith("default-src 'none'")
    assert CONTENT_SECURITY_POLICY.startswith(policy)


# --- The page in a real browser ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: str
    screenshot: Path
    page: Path


def hostile_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.tenant.add_group("evil", HOSTILE_IMAGE, "contoso")
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", None)
    builder.subscription(3, "platform", good_contact(roles_enabled=False))
    builder.subscription(4, "platform", good_contact(), deny_contacts=True)
    builder.subscription(5, "platform", good_contact(), state="Disabled")
    builder.tenant.add_subscription(
        EmulatedSubscription(subscription_id(6), HOSTILE_SCRIPT, "evil", contact=good_contact(emails=[]))
    )
    # Long unbroken names are what push a narrow page sideways.
    builder.tenant.add_group("long", "Landing-Zones-" + "Emea-Production-Workloads-" * 4, "contoso")
    builder.tenant.add_subscription(
        EmulatedSubscription(subscription_id(7), "payments-" * 12 + "prod", "long", contact=None)
    )
    return builder


@pytest.fixture(scope="module")
def rendered(emulator_server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """A real check of a tenant with hostile names, rendered once and opened in headless Chromium."""
    original = emulator_server.tenant
    emulator_server.reset()
    emulator_server.tenant = hostile_tenant().tenant
    environment = emulator_server.environment()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        settings = load_settings(environment)

        async def check() -> Report:
            async with build_credential(settings, **EMULATOR_CREDENTIAL_OPTIONS) as credential:
                return await run_check(settings, credential)

        report = asyncio.run(check())
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "report.html"
    page.write_text(report_to_html(report), encoding="utf-8")
    screenshot = ARTIFACTS / "report.png"
    browser = render_page(page, screenshot, 1200, 900, "--enable-logging=stderr", "--v=0")
    assert browser.returncode == 0, browser.stderr
    yield Rendered(browser.stdout, browser.stderr, screenshot, page)
    emulator_server.tenant = original
    emulator_server.reset()


def text_of(dom: str) -> str:
    """The page's visible text, roughly as a reader sees it."""
    body = dom.split("<body>", 1)[1]
    text = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def test_the_browser_shows_the_counts_and_every_subscription(rendered):
    text = text_of(rendered.dom)

    for count in ("4 fail", "1 error", "1 pass", "1 skipped", "7 total"):
        assert count in text
    for name in ("sub-1", "sub-2", "sub-3", "sub-4", "sub-5"):
        assert name in text
    assert "Tenant Root Group / Contoso / Platform" in text
    assert "403 AuthorizationFailed" in text


def test_hostile_names_are_shown_as_text_and_never_run(rendered):
    text = text_of(rendered.dom)

    assert HOSTILE_SCRIPT in text
    assert HOSTILE_IMAGE in text
    assert "pwned" not in re.search(r"<title>(.*?)</title>", rendered.dom).group(1)
    assert not re.search(r"<(script|img)\b", rendered.dom.split("<body>", 1)[1])


def test_the_browser_applies_the_page_style_without_policy_violations(rendered):
    assert "Content Security Policy" not in rendered.console
    assert "Failed to load resource" not in rendered.console


def test_the_screenshot_is_kept_as_a_test_artifact(rendered):
    png = rendered.screenshot.read_bytes()

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 900)


# Headless Chromium will not make a window narrower than 500 px, so the page is measured inside an
# iframe of the wanted width: a real viewport for its media queries, and the report itself stays
# unmodified (its own policy still forbids scripts; the probe runs in the parent, same origin via srcdoc).
_PROBE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title></head>
<body style="margin:0">
<iframe style="border:0;display:block" width="{width}" height="{height}" srcdoc="{report}"></iframe>
<script>
const frame = document.querySelector("iframe");
function probe() {{
  const doc = frame.contentDocument, win = frame.contentWindow, root = doc.documentElement;
  const measure = () => ({{
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    wide: [...doc.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
      .slice(0, 5)
      .map((e) => `${{e.tagName}}.${{e.className}}: ${{e.textContent.slice(0, 60)}}`),
  }});
  const top = (selector) => {{
    const found = doc.querySelector(selector);
    return found ? found.getBoundingClientRect().top + win.scrollY : null;
  }};
  const result = {{ innerWidth: win.innerWidth, closed: measure() }};
  doc.querySelectorAll("details").forEach((d) => {{ d.open = true; }});
  Object.assign(result, {{
    open: measure(),
    firstFail: top("tr.fail"),
    firstPass: top("tr.pass"),
    portalLinks: doc.querySelectorAll('a[href^="https://portal.azure.com/#view/"]').length,
    rows: doc.querySelectorAll("tbody tr:not(.group)").length,
  }});
  document.body.setAttribute("data-probe", JSON.stringify(result));
}}
if (frame.contentDocument && frame.contentDocument.readyState === "complete" && frame.contentDocument.body
    && frame.contentDocument.body.childElementCount) probe();
else frame.addEventListener("load", probe);
</script>
</body></html>
"""


def probe_layout(page: Path, width: int, height: int = 1600) -> dict[str, object]:
    """Lay `page` out in a viewport `width` px wide, measure it, and keep a screenshot next to it."""
    wrapper = page.with_name(f"{page.stem}-probe-{width}.html")
    report = html_escape(page.read_text(encoding="utf-8"), quote=True)
    wrapper.write_text(_PROBE_PAGE.format(width=width, height=height, report=report), encoding="utf-8")
    browser = render_page(wrapper, page.with_name(f"{page.stem}-{width}.png"), max(width, 500), height)
    assert browser.returncode == 0, browser.stderr
    found = re.search(r'data-probe="([^"]*)"', browser.stdout)
    assert found, "the probe script did not run"
    return json.loads(html_unescape(found.group(1)))


def test_at_phone_width_the_page_stacks_without_horizontal_scrolling(rendered):
    probe = probe_layout(rendered.page, 390)

    assert probe["innerWidth"] == 390
    for state in ("closed", "open"):  # with the folded lists closed and opened
        layout = probe[state]
        assert layout["scrollWidth"] <= layout["clientWidth"], layout["wide"]


def test_in_the_browser_the_first_failing_subscription_comes_before_the_first_passing_one(rendered):
    probe = probe_layout(rendered.page, 390)

    assert probe["firstFail"] is not None and probe["firstPass"] is not None
    assert probe["firstFail"] < probe["firstPass"]


def test_in_the_browser_each_subscription_has_a_portal_link(rendered):
    probe = probe_layout(rendered.page, 1280)

    assert probe["rows"] == 7
    assert probe["portalLinks"] == 7
    assert probe["open"]["scrollWidth"] <= probe["open"]["clientWidth"], probe["open"]["wide"]
