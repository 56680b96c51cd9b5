"""What Teams and Slack are sent: sections, grouping, fixes, hostile names, limits at 5,000 failures."""

import json
import random
import re

from emulator.webhooks import slack_problems, teams_problems
from shared.models import AlertBatch, AlertItem, AlertKind, Finding, Report, Status, Subscription, SubscriptionResult
from shared.notify import NotifySettings, batch_from_report, render_payloads
from shared.notify.preview import slack_text, teams_text
from shared.notify.slack import MAX_BLOCKS, limit_problems
from shared.notify.teams import MAX_PAYLOAD_BYTES, TeamsNotifier, encode
from tests.js.adaptive_cards import card_problems, render_card

CORP = ("Tenant Root Group", "Contoso", "Landing Zones", "Corp")
PLATFORM = ("Tenant Root Group", "Contoso", "Platform")
NO_EMAIL = Finding("contact-email", "No security contact email is set.", "Add an address under Email notifications.")
OWNERS_OFF = Finding("owner-notifications", "Owners are not notified.", "Turn on notifications to the Owner role.")
SETTINGS = NotifySettings()


def sub_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def result(number, status=Status.FAIL, path=CORP, name=None, findings=(NO_EMAIL,), reason=None):
    subscription = Subscription(sub_id(number), name or f"sub-{number}", path, "Enabled")
    if status is Status.ERROR:
        findings, reason = (), reason or "403 AuthorizationFailed: no read access to securityContacts"
    if status in (Status.PASS, Status.SKIPPED):
        findings = ()
    return SubscriptionResult(subscription, status, tuple(findings), reason)


def report(*results, scope=("contoso",)):
    return Report(scope, tuple(results), "2026-11-25T02:00:00+00:00")


def sample_report():
    return report(
        result(1, Status.PASS),
        result(2, name="corp-hr", findings=(NO_EMAIL, OWNERS_OFF)),
        result(3, name="corp-finance", findings=(NO_EMAIL,)),
        result(4, path=PLATFORM, name="identity-prod", findings=(OWNERS_OFF, NO_EMAIL)),
        result(5, Status.ERROR, path=PLATFORM, name="connectivity-prod"),
        result(6, Status.SKIPPED, name="legacy-archive"),
    )


def both(batch, settings=SETTINGS):
    payloads = render_payloads(batch, settings)
    return payloads["teams"], payloads["slack"]


def text_of(teams, slack):
    teams_lines = [line for payload in teams for line in teams_text(payload)]
    slack_lines = [line for payload in slack for line in slack_text(payload)]
    return "\n".join(teams_lines), "\n".join(slack_lines)


def failures_tenant(count: int) -> Report:
    groups = [(*CORP[:3], f"Region {g:02d}", f"Team {g * 7 % 13}") for g in range(60)]
    results = [
        result(
            n,
            Status.ERROR if n % 25 == 0 else Status.FAIL,
            path=groups[n % len(groups)],
            name=f"app-{n:05d}",
            findings=(NO_EMAIL, OWNERS_OFF),
        )
        for n in range(count)
    ]
    return report(*results)


def test_the_cli_batch_holds_every_fail_and_error_as_new():
    batch = batch_from_report(sample_report(), SETTINGS)

    assert [(item.kind, item.result.subscription.display_name) for item in batch.items] == [
        (AlertKind.NEW, "corp-hr"),
        (AlertKind.NEW, "corp-finance"),
        (AlertKind.NEW, "identity-prod"),
        (AlertKind.NEW, "connectivity-prod"),
    ]
    assert (
        batch_from_report(sample_report(), NotifySettings(notify_on=frozenset({Status.FAIL})))
        .items[-1]
        .result.subscription.display_name
        == "identity-prod"
    )


def test_a_message_has_the_headline_counts_and_scope():
    teams, slack = text_of(*both(batch_from_report(sample_report(), SETTINGS)))

    for text in (teams, slack):
        assert "4 subscriptions need attention" in text
        assert "1 pass · 3 fail · 1 error · 1 skipped (6 subscriptions)" in text
        assert "Scope: contoso" in text


def test_failing_subscriptions_are_grouped_by_management_group_with_id_findings_and_a_portal_link():
    teams, slack = both(batch_from_report(sample_report(), SETTINGS))
    link = f"https://portal.azure.com/#view/Microsoft_Azure_Security/PolicyMenuBlade/~/emailNotifications/subscriptionId/{sub_id(2)}"

    for lines in (teams_text(teams[0]), slack_text(slack[0])):
        text = "\n".join(lines)
        corp = next(i for i, line in enumerate(lines) if "Tenant Root Group / Contoso / Landing Zones / Corp" in line)
        platform = next(
            i
            for i, line in enumerate(lines)
            if line.endswith("Tenant Root Group / Contoso / Platform*")
            or line == "Tenant Root Group / Contoso / Platform"
        )
        assert corp < platform
        assert text.index("corp-finance") < text.index("corp-hr") < text.index("identity-prod")
        assert sub_id(2) in text
        assert "contact-email" in text and "No security contact email is set." in text
    assert link in json.dumps(teams[0])
    assert f"<{link}|Email notifications>" in json.dumps(slack[0])


def test_how_to_fix_appears_once_per_rule_not_per_subscription():
    teams, slack = both(batch_from_report(sample_report(), SETTINGS))

    for payload in (teams[0], slack[0]):
        serialized = json.dumps(payload)
        assert serialized.count(NO_EMAIL.fix) == 1
        assert serialized.count(OWNERS_OFF.fix) == 1


def test_subscriptions_that_could_not_be_checked_are_a_separate_section_with_the_reason():
    teams, slack = text_of(*both(batch_from_report(sample_report(), SETTINGS)))

    for text in (teams, slack):
        errors = text.index("Could not be checked (1)")
        assert text.index("connectivity-prod") > errors
        assert "403 AuthorizationFailed: no read access to securityContacts" in text
        assert text.index("New failures (3)") < errors
        assert "legacy-archive" not in text


def test_alert_kinds_get_their_own_sections_new_still_failing_resolved():
    batch = AlertBatch(
        sample_report(),
        (
            AlertItem(AlertKind.REMINDER, result(3, name="corp-finance")),
            AlertItem(AlertKind.NEW, result(2, name="corp-hr")),
            AlertItem(AlertKind.RESOLVED, result(1, Status.PASS, name="corp-fixed")),
            AlertItem(AlertKind.REMINDER, result(5, Status.ERROR, name="connectivity-prod")),
        ),
    )
    teams, slack = text_of(*both(batch))

    for text in (teams, slack):
        order = [
            text.index(title)
            for title in (
                "New failures (1)",
                "Could not be checked (1)",
                "Still failing (1)",
                "Resolved (now passing) (1)",
            )
        ]
        assert order == sorted(order)
        assert order[0] < text.index("corp-hr") < order[1] < text.index("connectivity-prod") < order[2]
        assert order[2] < text.index("corp-finance") < order[3] < text.index("corp-fixed")


def test_an_all_clear_message_says_nothing_needs_attention():
    batch = AlertBatch(report(result(1, Status.PASS)), ())
    teams, slack = text_of(*both(batch))

    for text in (teams, slack):
        assert "nothing needs attention" in text
        assert "Every checked subscription passes." in text


HOSTILE_NAMES = [
    "<!channel> wake up",
    "<https://evil.example/login|Reset your password>",
    "[click here](https://evil.example) **urgent** _now_ `code` ~strike~ # heading",
    "R&D <@U012345> <!here> <#C123>",
    "{{DATE(2017-02-14T06:08:39Z, SHORT)}} name",
    "payroll\u202egnp.exe\nsecond line\ttab",
    "数据中心 🇯🇵 👨‍👩‍👧 Zürich",
    "x" * 10_000,
]


def hostile_report():
    path = ("Tenant Root Group", "<!channel> [group](https://evil.example)", "y" * 5_000)
    evil = Finding("<!everyone>", "[see](https://evil.example) <https://evil.example|here> & more", "fix <!channel>")
    return report(*(result(n, path=path, name=name, findings=(evil, NO_EMAIL)) for n, name in enumerate(HOSTILE_NAMES)))


def test_slack_escapes_names_and_findings_so_nothing_mentions_or_links():
    _, slack = both(batch_from_report(hostile_report(), SETTINGS))

    for payload in slack:
        texts = [payload["text"]] + [
            t
            for block in payload["blocks"]
            for t in ([block["text"]["text"]] if "text" in block else [e["text"] for e in block.get("elements", [])])
        ]
        for text in texts:
            # The only <...> left are this module's own portal links.
            for target in re.findall(r"<([^>]*)>", text):
                assert target.startswith("https://portal.azure.com/#view/Microsoft_Azure_Security/"), target
            assert "<!" not in text and "<@" not in text and "<#" not in text
        assert "&lt;!channel&gt; wake up" in json.dumps(payload, ensure_ascii=False)
        assert "R&amp;D &lt;@U012345&gt;" in json.dumps(payload, ensure_ascii=False)
        assert limit_problems(payload) == [] and slack_problems(payload) == []


def test_teams_puts_hostile_text_only_where_markdown_is_not_read():
    teams, _ = both(batch_from_report(hostile_report(), SETTINGS))
    card = teams[0]["attachments"][0]["content"]

    def text_blocks(elements):
        for element in elements:
            if element["type"] == "TextBlock":
                yield element["text"]
            yield from text_blocks(element.get("items", []))

    for text in text_blocks(card["body"]):
        assert "evil" not in text and "<!" not in text
    serialized = json.dumps(card, ensure_ascii=False)
    assert "[click here](https://evil.example) **urgent**" in serialized  # literal, in a TextRun
    assert "{{DATE(" not in serialized  # no date macro expansion either


def test_a_malformed_subscription_id_gets_no_link_and_is_escaped():
    odd = SubscriptionResult(Subscription("<https://evil.example|id>", "odd", CORP), Status.FAIL, (NO_EMAIL,))
    teams, slack = both(batch_from_report(report(odd), SETTINGS))

    assert "Action.OpenUrl" not in json.dumps(teams)
    assert "&lt;https://evil.example|id&gt;" in json.dumps(slack)
    assert "<https://evil.example" not in json.dumps(slack)


def test_names_are_bounded_single_lines_without_bidi_tricks():
    teams, slack = both(batch_from_report(hostile_report(), SETTINGS))
    text = "\n".join(teams_text(teams[0]))

    assert "x" * 119 + "…" in text  # clipped to 120 characters including the ellipsis
    assert "x" * 120 not in text
    assert "\u202e" not in json.dumps(teams, ensure_ascii=False) + json.dumps(slack, ensure_ascii=False)
    assert "payrollgnp.exe second line tab" in text
    assert "数据中心 🇯🇵 👨‍👩‍👧 Zürich" in text


def test_a_5000_failure_tenant_gives_at_most_5_bounded_messages_per_channel_and_counts_the_rest():
    tenant = failures_tenant(5_000)
    teams, slack = both(batch_from_report(tenant, SETTINGS))

    assert len(teams) == 5 and len(slack) == 5
    for payload in teams:
        assert len(encode(payload)) <= MAX_PAYLOAD_BYTES
        assert teams_problems(payload, len(encode(payload))) == []
    for payload in slack:
        assert len(payload["blocks"]) <= MAX_BLOCKS
        assert limit_problems(payload) == [] and slack_problems(payload) == []
    for channel, payloads, render in (("teams", teams, teams_text), ("slack", slack, slack_text)):
        text = "\n".join(line for p in payloads for line in render(p))
        shown = len(set(re.findall(r"app-\d{5}", text)))
        assert 100 < shown < 5_000, channel
        assert f"And {5_000 - shown:,} more subscriptions; see the report for every one." in text, channel
        assert re.search(
            r"Tenant Root Group / Contoso / Landing Zones / Region \d\d / Team \d+ \(new failures\): \d+", text
        ), channel
        assert "other groups" in text
        assert "(part 5 of 5)" in text


def test_the_split_is_deterministic_whatever_order_the_results_come_in():
    tenant = failures_tenant(600)
    shuffled = list(tenant.results)
    random.Random(7).shuffle(shuffled)

    first = both(batch_from_report(tenant, SETTINGS))
    again = both(batch_from_report(report(*shuffled), SETTINGS))

    assert first == again


def test_max_messages_caps_the_number_of_messages():
    teams, slack = both(batch_from_report(failures_tenant(400), SETTINGS), NotifySettings(max_messages=2))

    assert len(teams) == 2 and len(slack) == 2


def test_every_kind_of_teams_card_is_valid_for_the_adaptivecards_library():
    teams = TeamsNotifier("https://portal.azure.com", 5)
    batches = [
        batch_from_report(sample_report(), SETTINGS),
        batch_from_report(hostile_report(), SETTINGS),
        batch_from_report(failures_tenant(5_000), SETTINGS),
        AlertBatch(report(result(1, Status.PASS)), ()),
        AlertBatch(report(result(1, Status.PASS)), (AlertItem(AlertKind.RESOLVED, result(1, Status.PASS)),)),
        AlertBatch(
            failures_tenant(300),
            tuple(
                AlertItem((AlertKind.NEW, AlertKind.REMINDER, AlertKind.RESOLVED)[n % 3], r)
                for n, r in enumerate(failures_tenant(300).results)
            ),
        ),
    ]
    cards = [payload["attachments"][0]["content"] for batch in batches for payload in teams.render(batch)]
    cards.append(
        teams.render_notice("Defender Contact Monitor test", "Test message <!channel> [x](https://e)")["attachments"][
            0
        ]["content"]
    )

    problems = card_problems(cards)

    assert len(cards) >= 10
    assert problems == [[] for _ in cards]


def test_the_card_validator_does_catch_a_bad_card():
    good = TeamsNotifier("https://portal.azure.com", 5).render(batch_from_report(sample_report(), SETTINGS))
    card = good[0]["attachments"][0]["content"]
    bad = {
        **card,
        "body": [*card["body"], {"type": "Carousel2000"}, {"type": "TextBlock", "text": "x", "wieght": "Bolder"}],
    }

    problems = card_problems([bad])[0]

    assert any("UnknownElementType" in p for p in problems)
    assert any("wieght" in p for p in problems)


def test_the_sample_card_renders_in_chromium_with_the_subscription_names():
    batch = batch_from_report(
        hostile_report().__class__(
            ("contoso",), sample_report().results + hostile_report().results[:3], "2026-11-25T02:00:00+00:00"
        ),
        SETTINGS,
    )
    card = TeamsNotifier("https://portal.azure.com", 5).render(batch)[0]["attachments"][0]["content"]

    dom, png = render_card(card, "teams-sample-card")

    rendered = dom[dom.index('<div id="card">') : dom.index('<pre id="errors">')]
    errors = dom[dom.index('<pre id="errors">') :].split("</pre>")[0]
    assert "RENDER ERROR" not in errors
    text = re.sub(r"<[^>]+>", "", rendered)
    for name in ("corp-hr", "corp-finance", "identity-prod", "connectivity-prod"):
        assert name in text
    # Hostile Markdown stays text: no link to evil.example was rendered, however the host reads Markdown.
    assert "[click here](https://evil.example)" in text
    assert "evil.example" not in "".join(re.findall(r'href="([^"]*)"', rendered))
    assert png.stat().st_size > 10_000
