"""function_app.py indexed by the real Python worker code (azure-functions-runtime), as the host would load it.

The worker runs in its own venv (.ci/tools/30-functions-worker.sh) so its package never mixes with
the project's. Its index_function_app() imports function_app.py and finds the FunctionApp;
process_indexed_function() validates every function's signature against its bindings (parameter
names and annotations, return binding, async-ness) and builds the metadata the host receives.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER_PYTHON = ROOT / ".tools" / "worker-venv" / "bin" / "python"

# Runs inside the worker venv. `protos` stands in for the gRPC messages the worker is built with
# (generated from the host's FunctionRpc.proto, not shipped in the package): the enum values are
# the protocol's, and each message just keeps its fields so the test can read them back.
_INDEX_SCRIPT = """
import json, sys, types
sys.path.insert(0, sys.argv[1])

from azure_functions_runtime.bindings.meta import load_binding_registry
from azure_functions_runtime.functions import Registry
from azure_functions_runtime.loader import index_function_app, process_indexed_function
from azure_functions_runtime.version import VERSION


class Message:
    def __init__(self, **fields):
        self.fields = fields


class BindingInfo(Message):
    out, inout = 1, 2
    undefined = 0


load_binding_registry()  # as the worker does on its init request
protos = types.SimpleNamespace(BindingInfo=BindingInfo, RpcFunctionMetadata=Message, RpcRetryOptions=Message)
registry = Registry()
indexed = index_function_app(sys.argv[1] + "/function_app.py")
metadata, _ = process_indexed_function(protos, registry, indexed, sys.argv[1])
functions = []
for message in metadata:
    fields = message.fields
    info = registry.get_function(fields["function_id"])
    functions.append({
        "name": fields["name"],
        "scriptFile": fields["script_file"],
        "rawBindings": [json.loads(raw) for raw in fields["raw_bindings"]],
        "bindings": {name: binding.fields["direction"] for name, binding in fields["bindings"].items()},
        "isAsync": info.is_async,
        "isHttp": info.is_http_func,
        "hasReturn": info.has_return,
        "requiresContext": info.requires_context,
        "inputs": {name: t.binding_name for name, t in info.input_types.items()},
    })
print(json.dumps({"runtime": VERSION, "functions": functions}))
"""


@pytest.fixture(scope="module")
def indexed() -> dict:
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: run .ci/install-tools (it builds the worker venv)")
    completed = subprocess.run(  # noqa: S603 - our own venv's interpreter and script
        [str(WORKER_PYTHON), "-c", _INDEX_SCRIPT, str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def by_name(indexed: dict) -> dict[str, dict]:
    return {function["name"]: function for function in indexed["functions"]}


def test_the_worker_indexes_exactly_the_timer_and_the_http_check(indexed):
    assert sorted(by_name(indexed)) == ["check", "scheduled_check"]
    assert {function["scriptFile"] for function in indexed["functions"]} == {"function_app.py"}
    assert indexed["runtime"] == "1.3.0"


def test_the_worker_accepts_the_timer_function_signature_and_bindings(indexed):
    timer = by_name(indexed)["scheduled_check"]

    assert timer["rawBindings"] == [
        {
            "direction": "IN",
            "type": "timerTrigger",
            "name": "timer",
            "schedule": "%CHECK_SCHEDULE%",
            "runOnStartup": False,
            "useMonitor": True,
        }
    ]
    assert timer["inputs"] == {"timer": "timerTrigger"}
    assert (timer["isAsync"], timer["isHttp"], timer["hasReturn"], timer["requiresContext"]) == (
        True,
        False,
        False,
        False,
    )


def test_the_worker_accepts_the_http_function_with_its_return_binding(indexed):
    http = by_name(indexed)["check"]

    assert http["bindings"] == {"req": 0, "$return": 1}  # in, out
    assert http["inputs"] == {"req": "httpTrigger"}
    assert (http["isAsync"], http["isHttp"], http["hasReturn"]) == (True, True, True)
    trigger = http["rawBindings"][0]
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("check", ["GET", "POST"], "FUNCTION")


def test_the_worker_venv_is_separate_from_the_project_venv():
    # The worker's package must not leak into what is deployed or tested as the app.
    completed = subprocess.run(
        [sys.executable, "-c", "import azure_functions_runtime"], capture_output=True, cwd=ROOT, check=False
    )
    assert completed.returncode != 0
