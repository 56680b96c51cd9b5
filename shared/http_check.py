"""The on-demand check over HTTP: request validation and answers, independent of the Functions host.

function_app.py translates the host's HttpRequest into (method, params, body, content type), hands
`handle_check` a coroutine that runs the check, and turns the HttpAnswer back into an HttpResponse.
Everything a caller can get wrong is a 400 with a JSON `{"error": ...}` body; nothing a caller sends
can produce a 500 or a stack trace.

Status codes:
  200  the check ran; the verdict is in the report (`summary`, `exitCode`), not in the status
  400  a bad request parameter, body or content type, or a scope the settings rule out (ScopeOverrideError)
  404  a requested subscription is not in the scope the run can see (NotInScope): `notFound` lists them
  405  a method other than GET or POST
  502  the run failed (scope unreadable, no subscriptions, authentication, ...): RunFailed's reason;
       with announce=true also `channels`, what each chat channel got, when delivery failed
  503  the app's own settings are invalid (ConfigError): every problem listed, fixed by the operator
  500  anything unexpected: a generic message, the exception goes to the log only
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .checker import exit_code
from .config import ScopeOverrideError, Settings, is_management_group_id, is_subscription_id
from .errors import ConfigError, MonitorError, NotInScope, RunFailed
from .models import Report
from .render_html import CONTENT_SECURITY_POLICY, DEFAULT_PORTAL_URL, report_to_html
from .report_format import to_table

log = logging.getLogger(__name__)

FORMATS = ("json", "table", "html")
METHODS = ("GET", "POST")
MAX_IDS = 100
# The largest legitimate body is 100 ids of at most 90 characters; anything far beyond that is not a check request.
MAX_BODY_BYTES = 64 * 1024

_GROUPS = "managementGroup"
_SUBSCRIPTIONS = "subscription"
_FORMAT = "format"
_NOTIFY = "notify"
_ANNOUNCE = "announce"
PARAMETERS = (_GROUPS, _SUBSCRIPTIONS, _FORMAT, _NOTIFY, _ANNOUNCE)
# The Functions host accepts the function key as ?code=...; it is the host's, never ours to echo or reject.
_HOST_PARAMETERS = frozenset({"code"})
# How much of a caller's bad input an error message repeats.
_MAX_ECHOED = 5
_MAX_ECHO_LENGTH = 60

_COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_HTML_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class BadRequest(MonitorError, ValueError):
    """The caller's request is invalid; the message says what to change and is safe to return."""

    status = 400


class MethodNotAllowed(BadRequest):
    status = 405


@dataclass(frozen=True)
class CheckRequest:
    management_group_ids: tuple[str, ...]
    subscription_ids: tuple[str, ...]
    output_format: str  # "json" | "table" | "html"
    notify: bool
    # Post a "monitor is live" notice to every channel before the alerts, and answer with what each got.
    announce: bool = False

    def apply_to(self, settings: Settings) -> Settings:
        """The app's settings with this request's scope in place of MANAGEMENT_GROUP_IDS / INCLUDE_SUBSCRIPTION_IDS.

        Raises ScopeOverrideError (answered 400) when the settings rule the scope out, e.g. an excluded subscription.
        """
        return settings.with_overrides(list(self.management_group_ids), list(self.subscription_ids))


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    # Without charset: the body is always UTF-8 text (azure.functions.HttpResponse's default charset).
    mimetype: str
    headers: Mapping[str, str] = field(default_factory=dict)


class RunOutcome(Protocol):
    @property
    def report(self) -> Report: ...


class ChannelResult(Protocol):
    """What one chat channel got (shared.notify.DeliveryResult)."""

    channel: str
    host: str
    ok: bool
    messages_sent: int

    def describe(self) -> str: ...


def query_parameters(url: str) -> dict[str, list[str]]:
    """Every value of every query parameter in a request URL.

    azure.functions.HttpRequest.params keeps one value per name, so repeated `managementGroup=`
    parameters are read from the URL itself. Blank values are kept so that they can be refused.
    """
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def parse_check_request(
    method: str, params: Mapping[str, list[str]], body: bytes, content_type: str | None
) -> CheckRequest:
    """Validate every parameter from the query string or a JSON body; raises BadRequest saying what is wrong."""
    method = method.upper()
    if method not in METHODS:
        raise MethodNotAllowed(f"method {_echo(method)} is not allowed; use GET or POST")
    query = {
        name: [values] if isinstance(values, str) else list(values)
        for name, values in params.items()
        if name not in _HOST_PARAMETERS
    }
    _reject_unknown(query, "query parameter")
    given: dict[str, list[Any]] = dict(query)
    if body.strip():
        if method == "GET":
            raise BadRequest("a GET request takes its parameters from the query string and has no body; use POST")
        document = _json_body(body, content_type)
        _reject_unknown(document, "body field")
        both = sorted(set(document) & set(query))
        if both:
            raise BadRequest(f"give {', '.join(both)} either in the query string or in the body, not in both")
        for name, value in document.items():
            given[name] = _body_values(name, value)
    groups = _ids(given.get(_GROUPS, []), _GROUPS, is_management_group_id, "management group ids")
    subscriptions = _ids(given.get(_SUBSCRIPTIONS, []), _SUBSCRIPTIONS, is_subscription_id, "subscription ids (GUIDs)")
    if len(groups) + len(subscriptions) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} management group and subscription ids per request")
    notify = _flag(given.get(_NOTIFY, []), _NOTIFY)
    announce = _flag(given.get(_ANNOUNCE, []), _ANNOUNCE)
    if announce and given.get(_NOTIFY) and not notify:
        raise BadRequest("announce posts the alerts as well as the notice; drop notify=false or announce=true")
    return CheckRequest(
        management_group_ids=tuple(dict.fromkeys(groups)),
        subscription_ids=tuple(dict.fromkeys(sub.lower() for sub in subscriptions)),
        output_format=_output_format(given.get(_FORMAT, [])),
        notify=notify or announce,
        announce=announce,
    )


async def handle_check(
    method: str,
    params: Mapping[str, list[str]],
    body: bytes,
    content_type: str | None,
    run: Callable[[CheckRequest], Awaitable[RunOutcome]],
    *,
    portal_url: str = DEFAULT_PORTAL_URL,
) -> HttpAnswer:
    """Validate, run the check and answer; never raises for anything a caller or a run can cause.

    `portal_url` is the cloud's portal, the base of the HTML page's per-subscription links.
    """
    try:
        request = parse_check_request(method, params, body, content_type)
    except BadRequest as error:
        log.info("check request rejected (%d): %s", error.status, error)
        headers = {"Allow": ", ".join(METHODS)} if isinstance(error, MethodNotAllowed) else {}
        return _error(error.status, str(error), headers)
    try:
        outcome = await run(request)
        report = outcome.report
        answer = _answer(report, request.output_format, portal_url)
        if request.announce:
            answer = _with_channels(answer, _channels(outcome))
        return answer
    except NotInScope as error:
        # Subscriptions the caller named that the run cannot find: nothing was checked, posted or stored.
        log.info("check request rejected: %s", error)
        return _error(404, str(error), extra={"notFound": list(error.subscription_ids)})
    except ScopeOverrideError as error:
        # Well-formed ids that the app settings rule out, e.g. a subscription in EXCLUDE_SUBSCRIPTION_IDS.
        log.info("check request rejected: %s", error)
        return _error(400, "the requested scope conflicts with the app settings", problems=error.problems)
    except ConfigError as error:
        # The request's own ids were validated above, so any other settings problem is the app's, not the caller's.
        log.error("check request could not run: %s", error)
        return _error(503, "the monitor's app settings are invalid", {}, problems=error.problems)
    except RunFailed as error:
        log.warning("check request run failed: %s", error)
        return _error(502, f"the check could not run: {error}")
    except BadRequest as error:
        log.info("check request rejected by the run (%d): %s", error.status, error)
        return _error(error.status, str(error))
    except MonitorError as error:
        # Raised on purpose further down (e.g. a chat channel refusing delivery): a failing dependency.
        log.warning("check request did not complete: %s", error)
        channels = _channels(error) if request.announce else None
        return _error(502, f"the check did not complete: {error}", extra={"channels": channels} if channels else None)
    except Exception:
        log.exception("check request failed unexpectedly")
        return _error(500, "the check failed unexpectedly; the details are in the function's log")


def _answer(report: Report, output_format: str, portal_url: str) -> HttpAnswer:
    if output_format == "table":
        return HttpAnswer(200, to_table(report) + "\n", "text/plain", dict(_COMMON_HEADERS))
    if output_format == "html":
        return HttpAnswer(200, report_to_html(report, portal_url), "text/html", dict(_HTML_HEADERS))
    document: dict[str, object] = {}
    for key, value in report.to_dict().items():
        document[key] = value
        if key == "summary":
            # Next to the summary, as the CLI's exit code would be: 0 all pass, 1 some fail, 2 some unchecked.
            document["exitCode"] = exit_code(report)
    document.setdefault("exitCode", exit_code(report))
    return HttpAnswer(200, json.dumps(document, indent=2) + "\n", "application/json", dict(_COMMON_HEADERS))


def _channels(source: object) -> list[dict[str, object]]:
    """What each channel got, from a MonitorOutcome or a DeliveryFailed: the live notice and the alerts."""
    announcement: tuple[ChannelResult, ...] = tuple(getattr(source, "announcement", ()))
    deliveries: tuple[ChannelResult, ...] = tuple(getattr(source, "deliveries", ()))
    by_channel: dict[str, dict[str, object]] = {}
    for key, results in (("notice", announcement), ("alerts", deliveries)):
        for result in results:
            entry = by_channel.setdefault(result.channel, {"channel": result.channel, "host": result.host})
            said = result.describe().split(": ", 1)[-1]  # without the "channel (host)" the entry already names
            entry[key] = {"delivered": result.ok, "messages": result.messages_sent, "detail": said}
    return list(by_channel.values())


def _with_channels(answer: HttpAnswer, channels: list[dict[str, object]]) -> HttpAnswer:
    if answer.mimetype == "application/json":
        document = json.loads(answer.body)
        document["channels"] = channels
        body = json.dumps(document, indent=2) + "\n"
    elif answer.mimetype == "text/plain":
        body = answer.body + "\n" + "\n".join(_channel_lines(channels)) + "\n"
    else:  # the HTML page is for people reading the report; the channels are in the run summary
        return answer
    return HttpAnswer(answer.status, body, answer.mimetype, answer.headers)


def _channel_lines(channels: list[dict[str, object]]) -> list[str]:
    if not channels:
        return ["Chat channels: none configured (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL); nothing was posted."]
    lines = ["Chat channels:"]
    for entry in channels:
        lines.append(f"  {entry['channel']} ({entry['host']})")
        for key, label in (("notice", "live notice"), ("alerts", "alerts")):
            got = entry.get(key)
            if isinstance(got, dict):
                lines.append(f"    {label}: {got['detail']}")
    return lines


def _error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> HttpAnswer:
    document: dict[str, object] = {"error": message}
    if problems:
        document["problems"] = problems
    document.update(extra or {})
    return HttpAnswer(status, json.dumps(document) + "\n", "application/json", {**_COMMON_HEADERS, **(headers or {})})


def _reject_unknown(names: Iterable[str], where: str) -> None:
    unknown = sorted(name for name in names if name not in PARAMETERS)
    if unknown:
        raise BadRequest(
            f"unknown {where}{'s' if len(unknown) > 1 else ''} {_echo_list(unknown)}; "
            f"the parameters are {', '.join(PARAMETERS)}"
        )


def _json_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise BadRequest(f"the body must be JSON sent as Content-Type: application/json, not {_echo(media_type)}")
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"managementGroup": ["corp"], "format": "table"}')
    return document


def _body_values(name: str, value: Any) -> list[Any]:
    """A body field as the list of values the query string would have given."""
    if name in (_GROUPS, _SUBSCRIPTIONS):
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        raise BadRequest(f"{name} must be a string or a list of strings")
    if name == _FORMAT:
        if not isinstance(value, str):
            raise BadRequest(f"format must be one of the strings {', '.join(FORMATS)}")
        return [value]
    # notify, announce: a real JSON boolean; the query string's "true"/"false" text is for URLs only.
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false (a JSON boolean)")
    return [value]


def _ids(values: list[str], name: str, valid: Callable[[str], bool], what: str) -> list[str]:
    # Like the app settings, one value may carry several ids separated by commas.
    ids = [piece.strip() for value in values for piece in value.split(",")]
    if len(ids) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} management group and subscription ids per request")
    if any(not item for item in ids):
        raise BadRequest(f"{name} has an empty value")
    bad = [item for item in ids if not valid(item)]
    if bad:
        raise BadRequest(f"{name} has values that are not {what}: {_echo_list(bad)}")
    return ids


def _single(values: list[Any], name: str) -> Any:
    if len(values) > 1:
        raise BadRequest(f"give {name} once")
    return values[0] if values else None


def _output_format(values: list[str]) -> str:
    value = _single(values, _FORMAT)
    if value is None:
        return "json"
    if value.strip().lower() not in FORMATS:
        raise BadRequest(f"format {_echo(value)} is not one of {', '.join(FORMATS)}")
    return value.strip().lower()


def _flag(values: list[Any], name: str) -> bool:
    value = _single(values, name)
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise BadRequest(f"{name} {_echo(value)} must be true or false")
    return text == "true"


def _echo(value: str) -> str:
    """A caller's value, quoted and cut short, for an error message (JSON-escaped on the way out)."""
    text = value if len(value) <= _MAX_ECHO_LENGTH else value[:_MAX_ECHO_LENGTH] + "..."
    return repr(text)


def _echo_list(values: list[str]) -> str:
    shown = ", ".join(_echo(value) for value in values[:_MAX_ECHOED])
    more = len(values) - _MAX_ECHOED
    return shown + (f" and {more} more" if more > 0 else "")
