"""The on-demand check over HTTP: every bad input is a 400 with a JSON error, a good one runs the real check."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

import pytest

from shared.azure_clients import build_credential
from shared.checker import run_check
from shared.config import load_settings
from shared.errors import MonitorError, RunFailed
from shared.http_check import (
    MAX_IDS,
    BadRequest,
    CheckRequest,
    handle_check,
    parse_check_request,
    query_parameters,
)
from shared.models import Report
from tests.conftest import TenantBuilder, good_contact, subscription_id

SUB_1 = subscription_id(1)
SUB_2 = subscription_id(2)
FUNCTION_KEY = "k3y-ThatMustNeverBeEchoed"


@dataclass(frozen=True)
class Outcome:
    report: Report


def query(text: str) -> dict[str, list[str]]:
    """Query parameters as the function app hands them over: every value of a repeated name."""
    return parse_qs(text, keep_blank_values=True)


def answer(method="GET", params="", body=b"", content_type=None, run=None):
    async def refuse(request: CheckRequest) -> Outcome:
        raise AssertionError(f"a bad request must not run a check: {request}")

    return asyncio.run(handle_check(method, query(params), body, content_type, run or refuse))


def body_of(json_fields: object) -> bytes:
    return json.dumps(json_fields).encode()


# --- Bad requests: 400 with {"error": ...}, and no check runs ----------------------------------------

BAD_QUERIES = {
    "an unknown parameter": "managementGroups=corp",
    "an unknown parameter next to good ones": "format=json&verbose=1",
    "a malformed subscription id": "subscription=not-a-guid",
    "a subscription id one digit short": f"subscription={SUB_1[:-1]}",
    "a subscription id with a newline inside": f"subscription={SUB_1[:9]}%0A{SUB_1[9:]}",
    "a group id with a slash": "managementGroup=corp/../root",
    "a group id with markup": "managementGroup=%3Cscript%3E",
    "a group id with a space": "managementGroup=corp%20online",
    "a group id with a newline inside": "managementGroup=corp%0Aonline",
    "a group id longer than ARM allows": "managementGroup=" + "g" * 91,
    "an empty group id": "managementGroup=",
    "an empty id between commas": "managementGroup=corp,,online",
    "more than 100 group ids": "&".join(f"managementGroup=g{n}" for n in range(MAX_IDS + 1)),
    "more than 100 ids across both lists": "subscription="
    + ",".join(subscription_id(n) for n in range(60))
    + "&managementGroup="
    + ",".join(f"g{n}" for n in range(41)),
    "an unknown format": "format=xml",
    "format given twice": "format=json&format=html",
    "a notify value that is not true or false": "notify=yes",
    "notify given twice": "notify=true&notify=false",
}


@pytest.mark.parametrize("params", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_bad_query_parameters_get_400_with_a_json_error(params):
    result = answer("GET", params)

    assert result.status == 400
    assert result.mimetype == "application/json"
    document = json.loads(result.body)
    assert list(document) == ["error"]
    assert isinstance(document["error"], str) and document["error"]


BAD_BODIES = {
    "not JSON": (b"{managementGroup: corp}", "application/json"),
    "truncated JSON": (b'{"managementGroup": ["corp"]', "application/json"),
    "not UTF-8": (b'{"format": "\xff"}', "application/json"),
    "a JSON array": (body_of(["corp"]), "application/json"),
    "a JSON string": (body_of("corp"), "application/json"),
    "JSON null": (b"null", "application/json"),
    "an unknown field": (body_of({"managementGroups": ["corp"]}), "application/json"),
    "a number as the group": (body_of({"managementGroup": 5}), "application/json"),
    "a number in the group list": (body_of({"managementGroup": ["corp", 5]}), "application/json"),
    "an object as the subscription": (body_of({"subscription": {"id": SUB_1}}), "application/json"),
    "a malformed subscription id": (body_of({"subscription": ["123"]}), "application/json"),
    "a bad group id": (body_of({"managementGroup": "corp?api-version=1"}), "application/json"),
    "notify as text": (body_of({"notify": "true"}), "application/json"),
    "notify as a number": (body_of({"notify": 1}), "application/json"),
    "format as a list": (body_of({"format": ["json"]}), "application/json"),
    "format unknown": (body_of({"format": "pdf"}), "application/json"),
    "more than 100 ids": (body_of({"subscription": [subscription_id(n) for n in range(101)]}), "application/json"),
    "a form-encoded body": (b"managementGroup=corp", "application/x-www-form-urlencoded"),
    "JSON sent as plain text": (body_of({"managementGroup": "corp"}), "text/plain"),
    "a huge body": (b'{"format": "json"' + b" " * 70_000 + b"}", "application/json"),
}


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_400_with_a_json_error(body, content_type):
    result = answer("POST", "", body, content_type)

    assert result.status == 400
    assert result.mimetype == "application/json"
    assert list(json.loads(result.body)) == ["error"]


def test_a_parameter_given_in_both_the_query_and_the_body_is_ambiguous():
    result = answer("POST", "format=table", body_of({"format": "html"}), "application/json")

    assert result.status == 400
    assert "either in the query string or in the body" in json.loads(result.body)["error"]


def test_a_get_request_with_a_body_is_rejected():
    result = answer("GET", "", body_of({"format": "table"}), "application/json")

    assert result.status == 400


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_methods_other_than_get_and_post_get_405_naming_the_allowed_ones(method):
    result = answer(method)

    assert result.status == 405
    assert result.headers["Allow"] == "GET, POST"
    assert "error" in json.loads(result.body)


def test_errors_name_the_bad_value_and_the_known_parameters():
    unknown = json.loads(answer("GET", "managementGroups=corp").body)["error"]
    malformed = json.loads(answer("GET", f"subscription={SUB_1},nope").body)["error"]

    assert "'managementGroups'" in unknown
    assert "managementGroup, subscription, format, notify" in unknown
    assert "'nope'" in malformed
    assert SUB_1 not in malformed


def test_errors_repeat_only_a_short_piece_of_what_was_sent():
    result = answer("GET", "managementGroup=" + "<" * 5000)

    assert len(result.body) < 300


def test_the_function_key_in_the_query_string_is_accepted_and_never_echoed():
    request = parse_check_request("GET", query(f"code={FUNCTION_KEY}&format=table"), b"", None)
    rejected = answer("GET", f"code={FUNCTION_KEY}&bogus=1")

    assert request.output_format == "table"
    assert rejected.status == 400
    assert FUNCTION_KEY not in rejected.body


def test_every_answer_forbids_caching_and_sniffing():
    result = answer("GET", "bogus=1")

    assert result.headers["Cache-Control"] == "no-store"
    assert result.headers["X-Content-Type-Options"] == "nosniff"


# --- Parsing good requests ------------------------------------------------------------------------------


def test_a_bare_request_checks_the_configured_scope_as_json_without_notifying():
    assert parse_check_request("GET", {}, b"", None) == CheckRequest((), (), "json", False)
    assert parse_check_request("POST", {}, b"", None) == CheckRequest((), (), "json", False)


def test_announce_asks_for_the_live_notice_and_implies_notify():
    expected = CheckRequest((), (), "table", True, announce=True)
    assert parse_check_request("GET", query("format=table&announce=true"), b"", None) == expected
    assert parse_check_request("GET", query("format=table&announce=true&notify=true"), b"", None) == expected
    body = body_of({"announce": True, "format": "table"})
    assert parse_check_request("POST", {}, body, "application/json") == expected


@pytest.mark.parametrize(
    ("params", "body", "problem"),
    [
        ("announce=true&notify=false", b"", "drop notify=false or announce=true"),
        ("announce=yes", b"", "announce 'yes' must be true or false"),
        ("announce=true&announce=false", b"", "give announce once"),
        ("", b'{"announce": "true"}', "announce must be true or false (a JSON boolean)"),
    ],
)
def test_announce_takes_true_or_false_and_never_with_notify_off(params, body, problem):
    refused = answer("POST" if body else "GET", params, body, "application/json" if body else None)
    assert refused.status == 400
    assert problem in json.loads(refused.body)["error"]


def test_a_run_without_channel_results_answers_announce_with_an_empty_channel_list():
    async def run(request: CheckRequest) -> Outcome:
        return Outcome(Report(("root",), (), "2026-11-30T07:00:00Z"))

    answered = answer("GET", "announce=true", run=run)
    assert answered.status == 200
    assert json.loads(answered.body)["channels"] == []


def test_ids_repeat_or_come_comma_separated_and_duplicates_are_dropped():
    lettered = "abcdef00-0000-4000-8000-00000000000a"
    request = parse_check_request(
        "get",
        query(
            f"managementGroup=corp&managementGroup=online,corp&subscription={lettered.upper()}"
            f"&subscription={SUB_2},{lettered}&format=HTML&notify=True"
        ),
        b"",
        None,
    )

    assert request == CheckRequest(("corp", "online"), (lettered, SUB_2), "html", True)


def test_whitespace_around_an_id_is_not_part_of_it():
    request = parse_check_request("GET", query(f"managementGroup=%20corp%0A&subscription={SUB_1}%0A"), b"", None)

    assert (request.management_group_ids, request.subscription_ids) == (("corp",), (SUB_1,))


def test_repeated_parameters_are_read_from_the_request_url():
    url = f"https://monitor.azurewebsites.net/api/check?managementGroup=corp&managementGroup=online&code={FUNCTION_KEY}"

    request = parse_check_request("GET", query_parameters(url), b"", None)

    assert request.management_group_ids == ("corp", "online")


def test_a_json_body_takes_strings_lists_and_a_real_boolean():
    body = body_of({"managementGroup": "corp", "subscription": [SUB_1, SUB_2], "format": "table", "notify": True})

    request = parse_check_request("POST", {}, body, "application/json; charset=utf-8")

    assert request == CheckRequest(("corp",), (SUB_1, SUB_2), "table", True)


def test_a_json_body_may_come_with_the_function_key_in_the_query_string():
    request = parse_check_request("POST", query(f"code={FUNCTION_KEY}"), body_of({"notify": False}), None)

    assert request == CheckRequest((), (), "json", False)


def test_exactly_100_ids_are_allowed():
    subs = [subscription_id(n) for n in range(60)]
    groups = [f"g{n}" for n in range(40)]

    request = parse_check_request("POST", {}, body_of({"subscription": subs, "managementGroup": groups}), None)

    assert len(request.subscription_ids) + len(request.management_group_ids) == MAX_IDS


def test_a_request_replaces_the_configured_scope_for_one_run():
    settings = load_settings({"MANAGEMENT_GROUP_IDS": "platform", "INCLUDE_SUBSCRIPTION_IDS": SUB_2})

    narrowed = CheckRequest(("corp",), (SUB_1,), "json", False).apply_to(settings)
    unchanged = CheckRequest((), (), "json", False).apply_to(settings)

    assert (narrowed.management_group_ids, narrowed.include_subscription_ids) == (("corp",), frozenset({SUB_1}))
    assert unchanged == settings


def test_bad_request_is_a_monitor_error():
    assert issubclass(BadRequest, MonitorError)


# --- The check itself, against the ARM emulator ---------------------------------------------------------


def mixed_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", None)
    builder.subscription(3, "platform", good_contact(), deny_contacts=True)
    return builder


@pytest.fixture
def real_run(emulator, settings_for):
    """The run function_app.py hands in: the app's settings narrowed by the request, a real check."""

    def make(**app_settings: str):
        async def run(request: CheckRequest) -> Outcome:
            settings = request.apply_to(settings_for(**app_settings))
            async with build_credential(settings) as credential:
                return Outcome(await run_check(settings, credential))

        return run

    return make


def test_a_json_check_answers_200_with_the_report_and_the_cli_exit_code(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("GET", "", run=real_run())

    assert (result.status, result.mimetype) == (200, "application/json")
    document = json.loads(result.body)
    assert document["summary"].items() >= {"pass": 1, "fail": 1, "error": 1, "skipped": 0, "total": 3}.items()
    assert document["exitCode"] == 2
    assert list(document).index("exitCode") == list(document).index("summary") + 1
    assert {s["subscriptionId"]: s["status"] for s in document["subscriptions"]} == {
        SUB_1: "pass",
        SUB_2: "fail",
        subscription_id(3): "error",
    }


def test_a_failing_verdict_is_still_200_and_the_request_narrows_the_run(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("POST", "", body_of({"subscription": [SUB_2], "managementGroup": ["corp"]}), run=real_run())

    document = json.loads(result.body)
    assert result.status == 200
    assert document["exitCode"] == 1
    assert document["scope"] == {"managementGroups": ["corp"]}
    assert [s["subscriptionId"] for s in document["subscriptions"]] == [SUB_2]


def test_a_table_check_answers_plain_text(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("GET", "format=table", run=real_run())

    assert (result.status, result.mimetype) == (200, "text/plain")
    assert "3 subscriptions: 1 pass, 1 fail, 1 error, 0 skipped" in result.body
    assert "sub-2" in result.body


def test_an_html_check_answers_a_page_locked_down_by_its_headers(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("GET", "format=html", run=real_run())

    assert (result.status, result.mimetype) == (200, "text/html")
    assert result.body.startswith("<!DOCTYPE html>")
    assert "sub-1" in result.body
    assert result.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in result.headers["Content-Security-Policy"]
    assert result.headers["Cache-Control"] == "no-store"


def test_the_html_page_links_each_subscription_into_the_portal_it_is_given(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = asyncio.run(
        handle_check("GET", query("format=html"), b"", None, real_run(), portal_url="https://portal.azure.cn")
    )

    assert result.body.count('<a href="https://portal.azure.cn/#view/Microsoft_Azure_Security/') == 3


def test_a_run_that_fails_answers_502_with_the_reason(use_tenant, real_run):
    use_tenant(TenantBuilder())

    result = answer("GET", "", run=real_run())

    assert (result.status, result.mimetype) == (502, "application/json")
    assert "no subscriptions found" in json.loads(result.body)["error"]


def test_broken_app_settings_answer_503_listing_every_problem(use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("GET", "", run=real_run(CHECK_CONCURRENCY="0", MIN_ALERT_SEVERITY="Severe"))

    assert result.status == 503
    document = json.loads(result.body)
    assert "app settings" in document["error"]
    assert any("CHECK_CONCURRENCY" in problem for problem in document["problems"])
    assert any("MIN_ALERT_SEVERITY" in problem for problem in document["problems"])


def test_asking_for_a_subscription_the_settings_exclude_is_a_bad_request(emulator, use_tenant, real_run):
    use_tenant(mixed_tenant())

    result = answer("GET", f"subscription={SUB_2}", run=real_run(EXCLUDE_SUBSCRIPTION_IDS=SUB_2))

    assert result.status == 400
    document = json.loads(result.body)
    assert "conflicts with the app settings" in document["error"]
    assert any("EXCLUDE_SUBSCRIPTION_IDS" in problem for problem in document["problems"])
    assert emulator.stats.snapshot()["calls"].get("securityContacts", 0) == 0


def test_a_run_failure_raised_on_purpose_elsewhere_answers_502():
    async def run(request: CheckRequest) -> Outcome:
        raise RunFailed("the scope group corp could not be read (403)")

    result = answer("GET", "", run=run)

    assert result.status == 502
    assert json.loads(result.body) == {"error": "the check could not run: the scope group corp could not be read (403)"}


def test_a_dependency_refusing_on_purpose_answers_502_with_its_reason():
    class StorageRefused(MonitorError):
        pass

    async def run(request: CheckRequest) -> Outcome:
        raise StorageRefused("alert state table unreachable: 403")

    result = answer("GET", "notify=true", run=run)

    assert result.status == 502
    assert "alert state table unreachable: 403" in json.loads(result.body)["error"]


def test_an_unexpected_failure_answers_a_generic_500_and_goes_to_the_log(caplog):
    async def run(request: CheckRequest) -> Outcome:
        raise KeyError("internal detail: sig=abc123")

    caplog.set_level(logging.ERROR, logger="shared.http_check")
    result = answer("GET", "", run=run)

    assert (result.status, result.mimetype) == (500, "application/json")
    assert "sig=abc123" not in result.body
    assert "Traceback" not in result.body
    assert list(json.loads(result.body)) == ["error"]
    assert any(record.exc_info and "sig=abc123" in str(record.exc_info[1]) for record in caplog.records)
