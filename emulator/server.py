"""HTTPS emulation of the ARM endpoints the monitor uses, plus a managed-identity token endpoint."""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .certs import create_certificates
from .faults import ContactChange, Fault, FaultPlan, fault_error
from .tenant import API_2020, Contact, EmulatedSubscription, Tenant, contact_put_problems

ARM_AUDIENCES = {
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://management.chinacloudapi.cn",
    "https://management.usgovcloudapi.net",
}
IDENTITY_API_VERSION = "2019-08-01"

_GROUPS = re.compile(r"^/providers/Microsoft\.Management/managementGroups/?$", re.IGNORECASE)
_GROUP = re.compile(r"^/providers/Microsoft\.Management/managementGroups/([^/]+)/?$", re.IGNORECASE)
_SUBSCRIPTIONS = re.compile(r"^/subscriptions/?$", re.IGNORECASE)
_TENANTS = re.compile(r"^/tenants/?$", re.IGNORECASE)
_PROVIDER = re.compile(r"^/providers/Microsoft\.Security/?$", re.IGNORECASE)
_REGISTER = re.compile(r"^/subscriptions/([^/]+)/providers/([^/]+)/register/?$", re.IGNORECASE)
_CONTACTS = re.compile(
    r"^/subscriptions/([^/]+)/providers/Microsoft\.Security/securityContacts(?:/([^/]+))?/?$", re.IGNORECASE
)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.connections = 0
        # (monotonic seconds, route, target, status) for every ARM request.
        self.log: list[tuple[float, str, str, int]] = []
        # (method, target) of every ARM request that is not a GET: a read-only client makes none.
        self.writes: list[tuple[str, str]] = []
        # Bumped by reset, so answers still in flight from before it are not counted after it.
        self.generation = 0
        # (User-Agent, x-ms-client-request-id) of every ARM request, to see what the client's pipeline sends.
        self.client_headers: list[tuple[str, str]] = []

    def record(self, route: str, target: str, status: int, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self.generation:
                return  # a slow answer to a request made before the last reset
            self.calls[route] += 1
            self.log.append((time.monotonic(), route, target, status))

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def saw_headers(self, user_agent: str, request_id: str) -> None:
        with self._lock:
            self.client_headers.append((user_agent, request_id))

    def wrote(self, method: str, target: str) -> None:
        with self._lock:
            self.writes.append((method, target))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.connections = 0
            self.log.clear()
            self.writes.clear()
            self.client_headers.clear()
            self.generation += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            arm = sum(count for route, count in self.calls.items() if route != "token")
            read = {target.split("/")[2].lower() for _, route, target, _ in self.log if route == "securityContacts"}
            return {
                "armCalls": arm,
                # How many subscriptions had their contacts asked for (once or more).
                "contactSubscriptions": len(read),
                "calls": dict(self.calls),
                "connections": self.connections,
                "writes": [list(write) for write in self.writes],
            }


class _ArmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ArmServer

    def setup(self) -> None:
        self.request.settimeout(30)
        # Headers and body go out as separate writes; without this, Nagle's algorithm
        # meets the client's delayed ACK and every response stalls for 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs here, in the connection's own thread, not in the accept loop.
        self.request.do_handshake()
        self.server.emulator.stats.connected()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self.server.emulator.handle_arm(self, "GET")

    def do_POST(self) -> None:
        self.server.emulator.handle_arm(self, "POST")

    def do_PUT(self) -> None:
        self.server.emulator.handle_arm(self, "PUT")


class _IdentityHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _IdentityServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self.server.emulator.handle_token(self)


class _ArmServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: EmulatorServer) -> None:
        self.context = context
        self.emulator = emulator
        super().__init__(address, _ArmHandler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients closing idle keep-alive connections is normal; stay quiet.
        pass


class _IdentityServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        super().__init__(address, _IdentityHandler)


class EmulatorServer:
    """Run with `with EmulatorServer(tenant) as emulator:`; URLs and the CA file are attributes."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        latency_ms: float = 0.0,
        host: str = "127.0.0.1",
        arm_port: int = 0,
        identity_port: int = 0,
        certificate_dir: Path | None = None,
    ) -> None:
        self.tenant = tenant
        self.latency_ms = latency_ms
        self.faults = FaultPlan()
        self.stats = Stats()
        self.identity_header = secrets.token_urlsafe(24)
        self._issued_tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        if certificate_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="dcm-emulator-")
            certificate_dir = Path(self._temp_dir.name)
        self.certificates = create_certificates(certificate_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificates.cert_path, self.certificates.key_path)
        self._arm = _ArmServer((host, arm_port), context, self)
        self._identity = _IdentityServer((host, identity_port), self)
        self._threads: list[threading.Thread] = []

    @property
    def arm_endpoint(self) -> str:
        return f"https://localhost:{self._arm.server_address[1]}"

    @property
    def identity_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._identity.server_address[1]}/msi/token"

    @property
    def ca_path(self) -> Path:
        return self.certificates.ca_path

    def environment(self) -> dict[str, str]:
        """What a client process needs to reach this emulator through the real SDK."""
        return {
            "ARM_ENDPOINT": self.arm_endpoint,
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    def start(self) -> EmulatorServer:
        for server in (self._arm, self._identity):
            thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._arm, self._identity):
            server.shutdown()
            server.server_close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def issued_audiences(self) -> set[str]:
        """The resources tokens were requested for, to check which cloud a client believes it is in."""
        with self._tokens_lock:
            return set(self._issued_tokens.values())

    def add_fault(self, fault: Fault) -> None:
        self.faults.add(fault)

    def add_contact_change(self, change: ContactChange) -> None:
        unknown = sorted(set(change.changes) - {item.name for item in fields(Contact)})
        if unknown:
            raise ValueError(f"a security contact has no field(s) {', '.join(unknown)}")
        self.faults.add_contact_change(change)

    def reset(self) -> None:
        self.faults.clear()
        self.stats.reset()
        with self._tokens_lock:
            self._issued_tokens.clear()

    # -- managed identity ------------------------------------------------------

    def handle_token(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        if handler.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            _send_json(handler, 401, {"error": "unauthorized", "error_description": "bad X-IDENTITY-HEADER"})
            return
        if query.get("api-version", [""])[0] != IDENTITY_API_VERSION:
            _send_json(handler, 400, {"error": "invalid_request", "error_description": "unsupported api-version"})
            return
        resource = query.get("resource", [""])[0].rstrip("/")
        if resource not in ARM_AUDIENCES:
            _send_json(handler, 400, {"error": "invalid_resource", "error_description": f"unknown {resource!r}"})
            return
        token = "emu-" + secrets.token_urlsafe(32)
        with self._tokens_lock:
            self._issued_tokens[token] = resource
        self.stats.record("token", "/msi/token", 200)
        _send_json(
            handler,
            200,
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": "00000000-0000-0000-0000-00000000c11e",
            },
        )

    # -- ARM -------------------------------------------------------------------

    def handle_arm(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        if parts.path.startswith("/_emulator/"):
            self._handle_admin(handler, method, parts.path, body)
            return
        route = self._route_name(parts.path)
        target = handler.path
        if method != "GET":
            self.stats.wrote(method, target)
        self.stats.saw_headers(handler.headers.get("User-Agent", ""), handler.headers.get("x-ms-client-request-id", ""))
        # Recorded by _send_raw just before the answer leaves, so a client never sees
        # a response that the statistics do not yet include.
        handler.arm_request = (self.stats, route, target, self.stats.generation)  # type: ignore[attr-defined]
        self._answer_arm(handler, method, parts.path, parse_qs(parts.query), route, target, body)

    def _route_name(self, path: str) -> str:
        if _GROUPS.match(path):
            return "managementGroups.list"
        if _GROUP.match(path):
            return "managementGroups.get"
        if _SUBSCRIPTIONS.match(path):
            return "subscriptions.list"
        if _TENANTS.match(path):
            return "tenants.list"
        if _CONTACTS.match(path):
            return "securityContacts"
        if _REGISTER.match(path):
            return "providers.register"
        if _PROVIDER.match(path):
            return "providers.get"
        return "unknown"

    def _answer_arm(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: dict[str, list[str]],
        route: str,
        target: str,
        body: bytes = b"",
    ) -> int:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _arm_error(
                handler, 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        with self._tokens_lock:
            known = auth[len("Bearer ") :] in self._issued_tokens
        if not known:
            return _arm_error(handler, 401, "InvalidAuthenticationToken", "The access token is invalid.")
        fault = self.faults.take(target)
        if fault is not None and fault.delay_seconds:
            time.sleep(fault.delay_seconds)
            if fault.status == 200 and not fault.malformed and fault.body is None:
                fault = None
            if method != "GET" and handler.arm_request[3] != self.stats.generation:  # type: ignore[attr-defined]
                # A write held past a reset belongs to a tenant that is gone: never let it land on the next one.
                return _arm_error(handler, 503, "ServiceUnavailable", "The emulator was reset during this request.")
        if fault is not None:
            if fault.body is not None:
                return _send_json(handler, fault.status, fault.body)
            if fault.malformed:
                return _send_raw(handler, fault.status, b'{"value": [ {"properties": ', "application/json")
            code, message = fault_error(fault)
            headers = {"Retry-After": _retry_after(fault.retry_after)} if fault.retry_after is not None else {}
            return _arm_error(handler, fault.status, code, message, headers)
        if route == "providers.register" and method == "POST":
            # What azure-mgmt-core's auto-registration policy would send; answered so a test can see it was tried.
            return _send_json(handler, 200, {"registrationState": "Registering"})
        if route == "securityContacts" and method == "PUT":
            match = _CONTACTS.match(path)
            assert match is not None
            api_version = query.get("api-version", [""])[0]
            return self._put_contact(handler, match.group(1), match.group(2), api_version, body)
        if method != "GET":
            return _arm_error(handler, 405, "MethodNotAllowed", "The emulator only serves reads.")
        api_version = query.get("api-version", [""])[0]
        if not api_version:
            return _arm_error(
                handler,
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required.",
            )
        skip = int(query.get("$skiptoken", ["0"])[0] or 0)
        if route == "managementGroups.list":
            groups = sorted(self.tenant.groups.values(), key=lambda g: g.group_id != self.tenant.root_id)
            items = [self.tenant.group_summary(g) for g in groups]
            return self._page(handler, items, skip, path, api_version, "@nextLink")
        if route == "managementGroups.get":
            return self._group(handler, _GROUP.match(path).group(1), query)  # type: ignore[union-attr]
        if route == "subscriptions.list":
            subs = [self.tenant.subscription_entry(s) for s in self.tenant.subscriptions.values() if not s.unlisted]
            return self._page(handler, subs, skip, path, api_version, "nextLink")
        if route == "tenants.list":
            return self._page(handler, self.tenant.tenant_entries(), skip, path, api_version, "nextLink")
        if route == "providers.get":
            return _send_json(handler, 200, self.tenant.security_provider())
        if route == "securityContacts":
            match = _CONTACTS.match(path)
            assert match is not None
            return self._contacts(handler, match.group(1), match.group(2), api_version, skip, path)
        return _arm_error(handler, 404, "NotFound", f"The emulator does not serve {path}.")

    def _page(
        self,
        handler: BaseHTTPRequestHandler,
        items: list[dict[str, Any]],
        skip: int,
        path: str,
        api_version: str,
        link_name: str,
    ) -> int:
        size = self.tenant.page_size
        page = items[skip : skip + size]
        body: dict[str, Any] = {"value": page}
        if skip + size < len(items):
            host = f"https://{self.tenant.next_link_host}" if self.tenant.next_link_host else self.arm_endpoint
            body[link_name] = f"{host}{path}?api-version={api_version}&$skiptoken={skip + size}"
        else:
            body[link_name] = None
        return _send_json(handler, 200, body)

    def _group(self, handler: BaseHTTPRequestHandler, group_id: str, query: dict[str, list[str]]) -> int:
        group = self.tenant.find_group(group_id)
        if group is None or group.group_id.lower() in self.tenant.unreadable_group_ids:
            # ARM answers 403 for groups that do not exist as well as for unreadable ones.
            return _arm_error(
                handler,
                403,
                "AuthorizationFailed",
                f"The client does not have authorization to perform action "
                f"'Microsoft.Management/managementGroups/read' over scope "
                f"'/providers/Microsoft.Management/managementGroups/{group_id}'.",
            )
        expand = query.get("$expand", [""])[0].lower() == "children"
        recurse = query.get("$recurse", [""])[0].lower() == "true"
        if recurse and not expand:
            return _arm_error(handler, 400, "BadRequest", "$recurse requires $expand=children.")
        return _send_json(handler, 200, self.tenant.group_details(group, expand, recurse))

    def _contacts(
        self,
        handler: BaseHTTPRequestHandler,
        subscription_id: str,
        name: str | None,
        api_version: str,
        skip: int,
        path: str,
    ) -> int:
        sub = self.tenant.subscriptions.get(subscription_id.lower())
        refused = self._refuse_contacts(handler, sub, subscription_id, api_version)
        if refused is not None:
            return refused
        assert sub is not None
        if sub.deny_contacts:
            return _arm_error(
                handler,
                403,
                "AuthorizationFailed",
                f"The client does not have authorization to perform action "
                f"'Microsoft.Security/securityContacts/read' over scope '/subscriptions/{subscription_id}'.",
            )
        items = self.tenant.contact_items(sub, api_version)
        # Rendered first: the read that brings a change due still answers what was there before it. A read
        # held past a reset (an earlier test's) does not count towards the current tenant's changes.
        current = handler.arm_request[3] == self.stats.generation  # type: ignore[attr-defined]
        for change in self.faults.contact_read(subscription_id) if current else ():
            _change_contact(sub, change)
        if name is not None:
            for item in items:
                if item.get("name", "").lower() == name.lower():
                    return _send_json(handler, 200, item)
            return _arm_error(handler, 404, "ResourceNotFound", f"Security contact '{name}' was not found.")
        if api_version == API_2020 and not self.tenant.spec_2020_list_envelope:
            # The live 2020-01-01-preview list: a bare JSON array of every contact, never paged
            # (azure-rest-api-specs#29458, azure-sdk-for-java#32822).
            return _send_json(handler, 200, items)
        return self._page(handler, items, skip, path, api_version, "nextLink")

    def _refuse_contacts(
        self, handler: BaseHTTPRequestHandler, sub: EmulatedSubscription | None, subscription_id: str, api_version: str
    ) -> int | None:
        """ARM's refusals of any securityContacts request, in ARM's order; None when the request may go on."""
        offered = (sub.contact_api_versions if sub else None) or self.tenant.contact_api_versions
        if api_version not in offered and self.tenant.contact_refusal == "china":
            return _arm_error(
                handler,
                404,
                "InvalidResourceType",
                f"The resource type 'securityContacts' could not be found in the namespace 'Microsoft.Security' "
                f"for api version '{api_version}'. The supported api-versions are '{','.join(offered)}'.",
            )
        if api_version not in offered:
            return _arm_error(
                handler,
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'global' and API version "
                f"'{api_version}' for type 'securityContacts'. The supported api-versions are '{', '.join(offered)}'.",
            )
        if sub is None:
            return _arm_error(
                handler, 404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
            )
        if not sub.security_provider_registered:
            return _arm_error(
                handler,
                409,
                sub.unregistered_code,
                "The subscription is not registered to use namespace 'Microsoft.Security'. "
                "See https://aka.ms/rps-not-found for how to register subscriptions.",
            )
        return None

    def _put_contact(
        self, handler: BaseHTTPRequestHandler, subscription_id: str, name: str | None, api_version: str, body: bytes
    ) -> int:
        """A securityContacts write, refused the way ARM refuses it (version, subscription, provider, body)."""
        sub = self.tenant.subscriptions.get(subscription_id.lower())
        refused = self._refuse_contacts(handler, sub, subscription_id, api_version)
        if refused is not None:
            return refused
        assert sub is not None
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return _arm_error(handler, 400, "InvalidRequestContent", "The request content was invalid JSON.")
        problems = contact_put_problems(api_version, name, document)
        if problems:
            return _arm_error(handler, 400, "InvalidInput", " ".join(problems))
        assert name is not None
        resource, created = self.tenant.put_contact(sub, api_version, name, document["properties"])
        return _send_json(handler, 201 if created else 200, resource)

    # -- admin -----------------------------------------------------------------

    def _handle_admin(self, handler: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        if path == "/_emulator/stats" and method == "GET":
            _send_json(handler, 200, self.stats.snapshot())
        elif path == "/_emulator/faults" and method == "POST":
            try:
                self.add_fault(Fault.from_json(json.loads(body)))
            except (ValueError, KeyError, TypeError) as error:
                _send_json(handler, 400, {"error": f"bad fault: {error}"})
                return
            _send_json(handler, 201, {"ok": True})
        elif path == "/_emulator/contact-changes" and method == "POST":
            try:
                self.add_contact_change(ContactChange.from_json(json.loads(body)))
            except (ValueError, KeyError, TypeError) as error:
                _send_json(handler, 400, {"error": f"bad contact change: {error}"})
                return
            _send_json(handler, 201, {"ok": True})
        elif path == "/_emulator/reset" and method == "POST":
            self.reset()
            _send_json(handler, 200, {"ok": True})
        else:
            _send_json(handler, 404, {"error": "unknown admin endpoint"})


def _change_contact(sub: EmulatedSubscription, change: ContactChange) -> None:
    contact = sub.contact or Contact(emails=[])
    for field_name, value in change.changes.items():
        setattr(contact, field_name, value)
    sub.contact = contact
    # The edited model is the contact now, in every api-version's shape.
    sub.raw_contacts = {}


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _arm_error(
    handler: BaseHTTPRequestHandler,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> int:
    return _send_json(handler, status, {"error": {"code": code, "message": message}}, headers)


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> int:
    return _send_raw(handler, status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)


def _send_raw(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> int:
    arm_request = getattr(handler, "arm_request", None)
    if arm_request is not None:
        stats, route, target, generation = arm_request
        stats.record(route, target, status, generation)
        handler.arm_request = None  # type: ignore[attr-defined]
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(payload)))
    handler.send_header("x-ms-request-id", secrets.token_hex(8))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)
    return status
