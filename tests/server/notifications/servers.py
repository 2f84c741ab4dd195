"""Real servers the notification tests deliver to: an SMTP server (aiosmtpd, STARTTLS / implicit TLS, login),
a webhook receiver that verifies the signature the way docs/notifications.md tells sites to, a Twilio-like
Messages API, and an MQTT subscriber on the local Mosquitto broker."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vms_server.notifications.channels.webhook import verify

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpts: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        self.rcpts.append(list(envelope.rcpt_tos))
        return "250 OK"


@dataclass
class SmtpServer:
    controller: Controller
    mailbox: _Mailbox
    port: int


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)
    return check


def start_smtp(cert: Path, key: Path, *, implicit_tls: bool, user: str = "vms", password: str = "s3cret"
               ) -> SmtpServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = _Mailbox()
    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": _authenticator(user, password), "auth_required": True}
    if implicit_tls:
        # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH; the socket is TLS from the start here.
        kwargs.update(ssl_context=context, auth_require_tls=False)
    else:
        kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
    controller.start()
    return SmtpServer(controller, mailbox, port)


@dataclass
class Receiver:
    """Webhook endpoint and Twilio stand-in, on one aiohttp server."""

    secret: str
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    fail_next: int = 0  # answer 503 this many times first
    sms: list[dict[str, str]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    jira_states: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (status, category key)
    snow_states: dict[str, str] = field(default_factory=dict)  # incident number -> state choice
    reads: int = 0
    runner: web.AppRunner | None = None
    port: int = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="try later")
        ok = verify(self.secret, request.headers.get("X-VMS-Timestamp", ""), body,
                    request.headers.get("X-VMS-Signature", ""), window_s=300)
        if not ok:
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        self.received.append({"body": json.loads(body), "delivery": request.headers["X-VMS-Delivery"]})
        return web.Response(status=204)

    async def twilio(self, request: web.Request) -> web.Response:
        """Twilio's documented Messages resource: form in, 201 + JSON with `sid` out; errors as JSON."""
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{request.match_info['sid']}:token-1".encode()).decode()
        if auth != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "more_info": "", "status": 401},
                                     status=401)
        form = dict(await request.post())
        if not str(form.get("To", "")).removeprefix("whatsapp:").startswith("+"):
            return web.json_response({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400},
                                     status=400)
        self.sms.append({k: str(v) for k, v in form.items()})
        return web.json_response({"sid": f"SM{len(self.sms):032d}", "status": "queued", "to": form["To"],
                                  "body": form.get("Body")}, status=201)

    async def jira(self, request: web.Request) -> web.Response:
        """Jira Cloud REST v3 `POST /rest/api/3/issue`: basic auth (e-mail, API token), ADF description."""
        expected = "Basic " + base64.b64encode(b"vms@example.org:jira-token").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"errorMessages": ["You are not authenticated."], "errors": {}}, status=401)
        fields = (await request.json())["fields"]
        missing = {k: f"{k} is required." for k in ("project", "summary", "issuetype") if not fields.get(k)}
        if missing or fields["description"]["type"] != "doc":
            return web.json_response({"errorMessages": [], "errors": missing}, status=400)
        self.issues.append(fields)
        number = 100 + len(self.issues)
        return web.json_response({"id": str(number), "key": f"{fields['project']['key']}-{number}",
                                  "self": f"http://127.0.0.1:{self.port}/rest/api/3/issue/{number}"}, status=201)

    async def servicenow(self, request: web.Request) -> web.Response:
        """ServiceNow Table API `POST /api/now/table/incident`: basic auth, JSON record in, `{"result": ...}` out."""
        expected = "Basic " + base64.b64encode(b"vms.integration:snow-pass").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": {"message": "User Not Authenticated",
                                                "detail": "Required to provide Auth information"},
                                      "status": "failure"}, status=401)
        record = await request.json()
        self.incidents.append(record)
        return web.json_response({"result": {**record, "sys_id": uuid.uuid4().hex,
                                             "number": f"INC{10000 + len(self.incidents):07d}"}}, status=201)

    async def jira_issue(self, request: web.Request) -> web.Response:
        """`GET /rest/api/3/issue/{key}?fields=status`: the status with its category (new, indeterminate, done)."""
        expected = "Basic " + base64.b64encode(b"vms@example.org:jira-token").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"errorMessages": ["You are not authenticated."], "errors": {}}, status=401)
        key = request.match_info["key"]
        if request.query.get("fields") != "status" or int(key.split("-")[1]) - 100 > len(self.issues):
            return web.json_response({"errorMessages": ["Issue does not exist"], "errors": {}}, status=404)
        self.reads += 1
        name, category = self.jira_states.get(key, ("To Do", "new"))
        return web.json_response({"key": key, "fields": {"status": {"name": name, "statusCategory": {
            "key": category}}}})

    async def servicenow_query(self, request: web.Request) -> web.Response:
        """`GET /api/now/table/incident?sysparm_query=number=...`: the matching records' requested fields."""
        expected = "Basic " + base64.b64encode(b"vms.integration:snow-pass").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": {"message": "User Not Authenticated"}, "status": "failure"},
                                     status=401)
        number = request.query["sysparm_query"].removeprefix("number=")
        self.reads += 1
        known = [f"INC{10000 + i:07d}" for i in range(1, len(self.incidents) + 1)]
        found = [{"number": number, "state": self.snow_states.get(number, "1")}] if number in known else []
        return web.json_response({"result": found})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/rest/api/3/issue/{key}", self.jira_issue)
        app.router.add_get("/api/now/table/incident", self.servicenow_query)
        app.router.add_post("/api/now/table/incident", self.servicenow)
        app.router.add_post("/rest/api/3/issue", self.jira)
        app.router.add_post("/hook", self.hook)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.twilio)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


class MqttSubscriber:
    """Collects what arrives under `prefix/#` on the local broker."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.messages: list[tuple[str, bytes, bool]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _run(self) -> None:
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
            await client.subscribe(f"{self.prefix}/#", qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                self.messages.append((str(message.topic), payload, message.retain))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
