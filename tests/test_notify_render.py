"""What Teams and Slack are sent: a digest read at 9 am, hostile names, and the limits at 10, 300 and 3,000 failures."""

import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulator.webhooks import slack_problems, teams_problems
from shared.models import AlertBatch, AlertItem, AlertKind, Finding, Report, Status, Subscription, SubscriptionResult
from shared.notify import NotifySettings, batch_from_report, render_payloads
from shared.notify.digest import FIX_LINES, LEARN_EMAIL_NOTIFICATIONS
from shared.notify.preview import slack_text, teams_text
from shared.notify.slack import MAX_BLOCKS, MAX_BLOCKS_TEXT, MAX_SECTION_TEXT, blocks_text_length, limit_problems
from shared.notify.teams import MAX_PAYLOAD_BYTES, TeamsNotifier, encode
from shared.portal import portal_link
from shared.rules import RULES
from tests.js.adaptive_cards import card_problems, render_card

CORP = ("Tenant Root Group", "Contoso", "Landing Zones", "Corp")
PLATFORM = ("Tenant Root Group", "Contoso", "Platform")
NO_EMAIL = Finding("contact-email", "No security contact email is set.", "Add an address under Email notifications.")
OWNERS_OFF = Finding("owner-notifications", "Owners are not notified.", "Turn on notifications to the Owner role.")
SETTINGS = NotifySettings()
REPORT_URL = "https://reports.contoso.example/defender-contacts?format=html"
WITH_REPORT = NotifySettings(report_url=REPORT_URL)
CHECKED = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
SWITCHED_OFF = "All security email notifications are off (isEnabled is false)."


def sub_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def result(number, status=Status.FAIL, path=CORP, name=None, findings=(NO_EMAIL,), reason=None):
    subscription = Subscription(sub_id(number), name or f"sub-{number}", path, "Enabled")
    if status is Status.ERROR:
        findings, reason = (), reason or "403 AuthorizationFailed: no read access to securityContacts"
    if status in (Status.PASS, Status.SKIPPED):
        findings = ()
    return SubscriptionResult(subscription, status, tuple(findings), reason)


def report(*results, scope=("contoso",), scope_names=()):
    return Report(scope, tuple(results), CHECKED.isoformat(), scope_names=scope_names)


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


def test_a_message_has_the_headline_counts_and_the_scope_by_its_display_name():
    named = replace(
        sample_report(), scope=("7f3c1a52-9d4e-4b8a-8f21-3c5d6e7a8b90",), scope_names=("Tenant Root Group",)
    )
    teams, slack = text_of(*both(batch_from_report(named, SETTINGS)))

    for text in (teams, slack):
        assert "4 subscriptions need attention" in text
        assert "1 pass · 3 fail · 1 error · 1 skipped (6 subscriptions)" in text
        assert "Scope: Tenant Root Group · checked 2026-11-25 02:00 UTC" in text
        assert "7f3c1a52" not in text
    # Without a display name (a report from before names were kept) the id stands in.
    assert "Scope: contoso" in text_of(*both(batch_from_report(sample_report(), SETTINGS)))[0]


def test_the_overview_counts_this_alert_by_section_by_rule_and_the_groups_with_most_failures():
    teams, slack = both(batch_from_report(sample_report(), SETTINGS))

    for lines in (teams_text(teams[0]), [line.replace("*", "").replace("`", "") for line in slack_text(slack[0])]):
        text = "\n".join(lines)
        assert "In this alert: 3 new · 1 could not be checked" in text
        assert "Failing by rule: contact-email 3 · owner-notifications 2" in text
        most = lines.index("Most failures:")
        assert lines[most + 1].endswith("Tenant Root Group / Contoso / Landing Zones / Corp: 2")
        assert lines[most + 2].endswith("Tenant Root Group / Contoso / Platform: 1")
        assert text.index("Most failures:") < text.index("New failures (3)")


def test_failing_subscriptions_are_grouped_by_management_group_each_name_linking_to_its_portal_page():
    teams, slack = both(batch_from_report(sample_report(), SETTINGS))
    link = f"https://portal.azure.com/#view/Microsoft_Azure_Security/PolicyMenuBlade/~/emailNotifications/subscriptionId/{sub_id(2)}"

    for lines in (teams_text(teams[0]), slack_text(slack[0])):
        text = "\n".join(lines)
        listed = text[text.index("New failures (3)") :]
        corp = listed.index("Tenant Root Group / Contoso / Landing Zones / Corp")
        platform = listed.index("Tenant Root Group / Contoso / Platform")
        assert corp < listed.index("corp-finance") < platform < listed.index("identity-prod")
        assert corp < listed.index("corp-hr") < platform
        assert "contact-email" in listed and "No security contact email is set." in listed
    hr = next(
        run
        for block in teams[0]["attachments"][0]["content"]["body"]
        for run in block.get("inlines", [])
        if run["text"] == "corp-hr"
    )
    assert hr["selectAction"] == {"type": "Action.OpenUrl", "url": link}
    assert f"*<{link}|corp-hr>*" in json.dumps(slack[0])


def test_chat_messages_and_the_html_report_share_one_portal_deep_link():
    """shared/portal.py is the one place the Defender for Cloud email-notifications link is built."""
    root = Path(__file__).resolve().parent.parent / "shared"
    holders = [
        path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*.py"))
        if "emailNotifications/subscriptionId" in path.read_text(encoding="utf-8")
    ]
    assert holders == ["portal.py"]
    teams, _ = both(batch_from_report(sample_report(), SETTINGS))
    assert portal_link("https://portal.azure.com", sub_id(2)) in json.dumps(teams[0])


def test_subscriptions_with_the_same_findings_are_named_together_and_the_findings_said_once():
    same = report(*(result(n, name=f"corp-{n}", findings=(NO_EMAIL, OWNERS_OFF)) for n in range(1, 5)))
    teams, slack = text_of(*both(batch_from_report(same, SETTINGS)))

    assert "corp-1 · corp-2 · corp-3 · corp-4" in teams
    assert "*corp-1* · *corp-2* · *corp-3* · *corp-4*" in slack
    for text in (teams, slack):
        assert text.count(NO_EMAIL.message) == 1 and text.count(OWNERS_OFF.message) == 1


def test_findings_in_another_order_still_tell_the_same_story():
    one = result(1, name="corp-1", findings=(NO_EMAIL, OWNERS_OFF))
    two = result(2, name="corp-2", findings=(OWNERS_OFF, NO_EMAIL))
    teams, slack = text_of(*both(batch_from_report(report(one, two), SETTINGS)))

    assert f"corp-1 · corp-2\n• contact-email: {NO_EMAIL.message}\n• owner-notifications:" in teams
    assert slack.count(NO_EMAIL.message) == 1


def test_the_same_message_under_two_rules_is_said_once():
    off = (
        Finding("alert-notifications", SWITCHED_OFF, "Turn alert emails on."),
        Finding("owner-notifications", SWITCHED_OFF, "Turn owner emails on."),
    )
    teams, slack = text_of(*both(batch_from_report(report(result(1, findings=off)), SETTINGS)))

    assert f"• alert-notifications, owner-notifications: {SWITCHED_OFF}" in teams
    assert f"• `alert-notifications, owner-notifications`: {SWITCHED_OFF}" in slack
    for text in (teams, slack):
        assert text.count("isEnabled is false") == 1


def test_how_to_fix_is_said_once_per_run_as_one_short_line_and_one_link_per_rule():
    for batch in (batch_from_report(sample_report(), SETTINGS), batch_from_report(failures_tenant(300), SETTINGS)):
        teams, slack = both(batch)
        for lines in ([teams_text(p) for p in teams], [slack_text(p) for p in slack]):
            everything = "\n".join(line for message in lines for line in message)
            assert everything.count("How to fix") == 1
            assert "How to fix" in "\n".join(lines[0])
            fixes = [line for line in lines[0] if "Learn more" in line]
            assert len(fixes) == 2
            assert all(len(line) < 120 for line in fixes), fixes
            assert "'Additional email addresses'" in fixes[0] and "include Owner" in fixes[1]
        for payloads in (teams, slack):
            serialized = json.dumps(payloads)
            assert serialized.count(LEARN_EMAIL_NOTIFICATIONS) == 2
            assert NO_EMAIL.fix not in serialized  # the rule's own long text is for the report


def test_a_rule_without_a_short_line_keeps_its_own_fix_text():
    odd = Finding("custom-rule", "Something is off.", "Do the custom thing.")
    teams, slack = text_of(*both(batch_from_report(report(result(1, findings=(odd,))), SETTINGS)))

    assert "custom-rule: Do the custom thing. Learn more" in teams
    assert "`custom-rule`: Do the custom thing. Learn more" in slack


def test_subscriptions_that_could_not_be_checked_are_a_separate_section_with_the_reason():
    teams, slack = text_of(*both(batch_from_report(sample_report(), SETTINGS)))

    for text in (teams, slack):
        errors = text.index("Could not be checked (1)")
        assert text.index("connectivity-prod") > errors
        assert "403 AuthorizationFailed: no read access to securityContacts" in text
        assert "they need Defender Contact Monitor Reader (or Security Reader), not a contact." in text
        assert text.index("New failures (3)") < errors
        assert "legacy-archive" not in text


def test_alert_kinds_get_their_own_sections_new_still_failing_resolved():
    batch = AlertBatch(
        sample_report(),
        (
            AlertItem(AlertKind.REMINDER, result(3, name="corp-finance"), CHECKED - timedelta(days=9)),
            AlertItem(AlertKind.NEW, result(2, name="corp-hr"), CHECKED),
            AlertItem(AlertKind.RESOLVED, result(1, Status.PASS, name="corp-fixed"), CHECKED - timedelta(days=3)),
            AlertItem(AlertKind.REMINDER, result(5, Status.ERROR, name="connectivity-prod"), CHECKED),
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
        assert "In this alert: " in text and "1 new · 1 could not be checked · 1 still failing · 1 resolved" in text
        assert "corp-finance* · _failing for 9 days_" in text or "corp-finance · failing for 9 days" in text
        assert "fixed after 3 days" in text


def test_still_failing_subscriptions_say_for_how_long_the_longest_first():
    def reminder(number, days):
        return AlertItem(AlertKind.REMINDER, result(number, name=f"sub-{number}"), CHECKED - timedelta(days=days))

    batch = AlertBatch(sample_report(), (reminder(1, 2), reminder(2, 30), reminder(3, 1), reminder(4, 2)))
    teams, slack = text_of(*both(batch))

    assert teams.index("sub-2 · failing for 30 days") < teams.index("sub-1 · sub-4 · failing for 2 days")
    assert teams.index("sub-4 · failing for 2 days") < teams.index("sub-3 · failing for 1 day")
    assert slack.index("failing for 30 days") < slack.index("failing for 2 days") < slack.index("failing for 1 day")


def test_a_subscription_unreadable_for_days_says_so_and_a_new_one_has_no_age():
    batch = AlertBatch(
        sample_report(),
        (
            AlertItem(AlertKind.REMINDER, result(5, Status.ERROR, name="locked"), CHECKED - timedelta(days=4)),
            AlertItem(AlertKind.NEW, result(2, name="fresh"), CHECKED - timedelta(days=40)),
        ),
    )

    for text in text_of(*both(batch)):
        assert "unreadable for 4 days" in text
        assert "40 days" not in text


def test_every_rule_has_a_short_fix_line():
    assert set(FIX_LINES) == {rule.id for rule in RULES}
    assert all(len(line) <= 90 for line in FIX_LINES.values())


def test_an_all_clear_message_says_nothing_needs_attention():
    batch = AlertBatch(report(result(1, Status.PASS)), ())
    teams, slack = text_of(*both(batch))

    for text in (teams, slack):
        assert "nothing needs attention" in text
        assert "Every checked subscription passes." in text
        assert "How to fix" not in text


def test_the_report_url_is_linked_first_thing_and_again_where_subscriptions_are_left_out():
    teams, slack = both(batch_from_report(failures_tenant(3_000), WITH_REPORT), WITH_REPORT)

    for payloads, render in ((teams, teams_text), (slack, slack_text)):
        assert "Open the full report" in render(payloads[0])
        assert "Every subscription is in the full report" in render(payloads[-1])
        assert all(REPORT_URL.replace("&", "&amp;") not in json.dumps(p) for p in payloads[1:-1])
    assert json.dumps(teams[0]).count(f'"url": "{REPORT_URL}"') == 1
    assert f"<{REPORT_URL}|Open the full report>" in json.dumps(slack[0])
    # Without REPORT_URL nothing pretends there is a link.
    for payloads in both(batch_from_report(failures_tenant(3_000), SETTINGS)):
        assert "full report" not in json.dumps(payloads)


def test_a_slack_link_cannot_be_ended_early_by_the_report_url():
    settings = NotifySettings(report_url="https://reports.contoso.example/r?a=1&b=x|y>z")
    _, slack = both(batch_from_report(sample_report(), settings), settings)

    assert "<https://reports.contoso.example/r?a=1&amp;b=x%7Cy&gt;z|Open the full report>" in json.dumps(slack[0])


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
    return report(
        *(result(n, path=path, name=name, findings=(evil, NO_EMAIL)) for n, name in enumerate(HOSTILE_NAMES)),
        scope_names=("<!here> Root [x](https://evil.example)",),
    )


def test_slack_escapes_names_and_findings_so_nothing_mentions_or_links():
    _, slack = both(batch_from_report(hostile_report(), SETTINGS))

    for payload in slack:
        texts = [payload["text"]] + [
            t
            for block in payload["blocks"]
            for t in ([block["text"]["text"]] if "text" in block else [e["text"] for e in block.get("elements", [])])
        ]
        for text in texts:
            # The only <...> left are this module's own links: portal pages and the fix guide.
            for target in re.findall(r"<([^>]*)>", text):
                assert target.startswith(
                    ("https://portal.azure.com/#view/Microsoft_Azure_Security/", LEARN_EMAIL_NOTIFICATIONS + "|")
                ), target
            assert "<!" not in text and "<@" not in text and "<#" not in text
        assert "&lt;!channel&gt; wake up" in json.dumps(payload, ensure_ascii=False)
        assert "R&amp;D &lt;@U012345&gt;" in json.dumps(payload, ensure_ascii=False)
        assert "Scope: &lt;!here&gt; Root" in payload["blocks"][1]["text"]["text"]
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


def test_a_malformed_subscription_id_gets_no_link_but_is_shown_escaped():
    odd = SubscriptionResult(Subscription("<https://evil.example|id>", "odd", CORP), Status.FAIL, (NO_EMAIL,))
    teams, slack = both(batch_from_report(report(odd), SETTINGS))

    urls = re.findall(r'"url": "([^"]*)"', json.dumps(teams))
    assert urls == [LEARN_EMAIL_NOTIFICATIONS]  # the fix guide only: no portal link for "odd"
    assert "odd (<https://evil.example|id>)" in "\n".join(teams_text(teams[0]))
    assert "*odd* `&lt;https://evil.example|id&gt;`" in json.dumps(slack)
    assert "<https://evil.example" not in json.dumps(slack)


def test_names_are_bounded_single_lines_without_bidi_tricks():
    teams, slack = both(batch_from_report(hostile_report(), SETTINGS))
    text = "\n".join(teams_text(teams[0]))

    assert "x" * 119 + "…" in text  # clipped to 120 characters including the ellipsis
    assert "x" * 120 not in text
    assert "\u202e" not in json.dumps(teams, ensure_ascii=False) + json.dumps(slack, ensure_ascii=False)
    assert "payrollgnp.exe second line tab" in text
    assert "数据中心 🇯🇵 👨‍👩‍👧 Zürich" in text


def named(payloads, render) -> set[str]:
    text = "\n".join(line for payload in payloads for line in render(payload))
    return set(re.findall(r"app-\d{5}", text))


def assert_within_limits(teams, slack):
    for payload in teams:
        size = len(encode(payload))
        assert size <= MAX_PAYLOAD_BYTES < 20_000
        assert teams_problems(payload, size) == []
    for payload in slack:
        assert len(payload["blocks"]) <= MAX_BLOCKS
        assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in payload["blocks"])
        assert blocks_text_length(payload["blocks"]) <= MAX_BLOCKS_TEXT
        assert limit_problems(payload) == [] and slack_problems(payload) == []


def test_slack_refuses_a_message_whose_blocks_hold_too_much_text_in_total_and_so_does_the_stand_in():
    # Every block within its own limit, 12,000 characters together: live Slack says msg_blocks_too_long.
    payload = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2_400}}] * 5}

    assert limit_problems(payload) == ["12000 characters of block text (limit 9000)"]
    assert slack_problems(payload) == ["msg_blocks_too_long: 12000 characters of block text"]


def test_10_failures_are_one_message_per_channel_naming_every_subscription():
    teams, slack = both(batch_from_report(failures_tenant(10), SETTINGS))

    assert len(teams) == 1 and len(slack) == 1
    assert_within_limits(teams, slack)
    for payloads, render in ((teams, teams_text), (slack, slack_text)):
        assert named(payloads, render) == {f"app-{n:05d}" for n in range(10)}
        assert "not named here" not in "\n".join(render(payloads[0]))


def test_300_failures_are_at_most_2_messages_per_channel_each_teams_card_under_20_kb():
    teams, slack = both(batch_from_report(failures_tenant(300), WITH_REPORT), WITH_REPORT)

    assert len(teams) <= 2 and len(slack) <= 2
    assert_within_limits(teams, slack)
    for payloads, render in ((teams, teams_text), (slack, slack_text)):
        text = "\n".join(line for payload in payloads for line in render(payload))
        shown = len(named(payloads, render))
        assert shown >= 50
        if shown < 300:
            assert f"{300 - shown:,} more subscriptions not named here" in text
            assert "Every subscription is in the full report" in text


def test_3000_failures_stay_within_notify_max_messages_and_the_rest_are_counted_per_management_group():
    for max_messages in (5, 3, 1):
        settings = NotifySettings(max_messages=max_messages)
        teams, slack = both(batch_from_report(failures_tenant(3_000), settings), settings)

        assert len(teams) == len(slack) == max_messages
        assert_within_limits(teams, slack)
        for payloads, render in ((teams, teams_text), (slack, slack_text)):
            last = render(payloads[-1])
            if max_messages > 1:
                assert f"(part {max_messages} of {max_messages})" in last[0]
            shown = len(named(payloads, render))
            last = last[next(i for i, line in enumerate(last) if "not named here" in line) :]
            (summary,) = [line for line in last if "not named here" in line]
            assert summary.replace("*", "").startswith(f"{3_000 - shown:,} more subscriptions not named here (")
            groups = [line for line in last if re.match(r"^Tenant Root Group / .* / Team \d+: [\d,]+$", line)]
            rest = [line for line in last if re.match(r"^… and [\d,]+ in \d+ other groups$", line)]
            assert len(groups) == 8 and len(rest) == 1
            counted = sum(int(line.rsplit(": ", 1)[1].replace(",", "")) for line in groups)
            counted += int(rest[0].split()[2].replace(",", ""))
            assert counted + shown == 3_000


def test_the_number_of_messages_grows_with_the_alert_not_up_to_the_cap_at_once():
    settings = NotifySettings(max_messages=50)
    for failures, expected in ((10, 1), (200, 1), (201, 2), (400, 2), (1_000, 5)):
        teams, slack = both(batch_from_report(failures_tenant(failures), settings), settings)
        assert (len(teams), len(slack)) == (expected, expected), failures


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
    teams = TeamsNotifier("https://portal.azure.com", 5, report_url=REPORT_URL)
    batches = [
        aged_batch(failures_tenant(300)),
        batch_from_report(
            report(result(1, findings=(Finding("a", SWITCHED_OFF, "x"), Finding("b", SWITCHED_OFF, "y")))), SETTINGS
        ),
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


def aged_batch(tenant: Report) -> AlertBatch:
    """Every kind of item, with first-seen times from hours to months ago."""
    kinds = (AlertKind.NEW, AlertKind.REMINDER, AlertKind.RESOLVED)
    return AlertBatch(
        tenant,
        tuple(
            AlertItem(
                kinds[n % 3],
                r if n % 3 != 2 else replace(r, status=Status.PASS, findings=()),
                CHECKED - timedelta(hours=7 * n),
            )
            for n, r in enumerate(tenant.results)
        ),
    )


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


def test_the_10_and_300_failure_cards_render_in_chromium(request):
    tenant = replace(failures_tenant(300), scope=("7f3c1a52",), scope_names=("Tenant Root Group",))
    notifier = TeamsNotifier("https://portal.azure.com", 5, report_url=REPORT_URL)
    ten = replace(tenant, results=tenant.results[:10])
    cards = {
        "teams-10-failures": notifier.render(aged_batch(ten))[0],
        **{f"teams-300-failures-{n}": card for n, card in enumerate(notifier.render(aged_batch(tenant)), 1)},
    }
    assert len(cards) <= 3

    for name, payload in cards.items():
        dom, png = render_card(payload["attachments"][0]["content"], name, height=2400)

        rendered = re.sub(r"<[^>]+>", " ", dom[dom.index('<div id="card">') : dom.index('<pre id="errors">')])
        assert "RENDER ERROR" not in dom[dom.index('<pre id="errors">') :].split("</pre>")[0]
        assert "Defender for Cloud contacts" in rendered and "app-000" in rendered
        assert png.stat().st_size > 10_000
