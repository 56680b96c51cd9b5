"""Azure Functions entry point (Python v2 model): bindings and request/response translation only.

The logic lives in shared/: shared.monitor runs a check with alert state and chat delivery,
shared.http_check validates the on-demand request and renders its answer.
"""

from __future__ import annotations

import logging
import os

import azure.functions as func

from shared.http_check import CheckRequest, handle_check, query_parameters
from shared.monitor import MonitorOutcome, run_monitor
from shared.portal import portal_url_for

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
# The Azure SDKs log every HTTP request at INFO: thousands of traces a run that would bury the run summary.
logging.getLogger("azure").setLevel(logging.WARNING)


@app.timer_trigger(schedule="%CHECK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def scheduled_check(timer: func.TimerRequest) -> None:
    # A failed run raises after telling the channels, so the host records a failed execution.
    await run_monitor(os.environ, trigger="timer-past-due" if timer.past_due else "timer")


@app.route(route="check", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
async def check(req: func.HttpRequest) -> func.HttpResponse:
    async def run(request: CheckRequest) -> MonitorOutcome:
        return await run_monitor(
            os.environ,
            trigger="http",
            notify=request.notify,
            announce=request.announce,
            management_group_ids=request.management_group_ids,
            subscription_ids=request.subscription_ids,
        )

    answer = await handle_check(
        req.method,
        _query(req),
        req.get_body(),
        req.headers.get("content-type"),
        run,
        portal_url=portal_url_for(os.environ),
    )
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype=answer.mimetype, headers=answer.headers)


def _query(req: func.HttpRequest) -> dict[str, list[str]]:
    # req.params keeps one value per name; the URL keeps repeated ?subscription=...&subscription=...
    return query_parameters(req.url) or {name: [value] for name, value in req.params.items()}
