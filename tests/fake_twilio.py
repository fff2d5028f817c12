"""A fake Twilio REST API on 127.0.0.1 for the REAL twilio client (through settings.TWILIO_API_BASE_URL).

Every request is checked against Twilio's own OpenAPI description (../shared/twilio-openapi/, beside the
repository) with openapi-core, plus a strict check that every query and form parameter name is one the
operation declares (the description allows unknown names; Twilio ignores them, which hides typos such as
`Statuscallback`). Problems are answered with a 400 and kept in `validation_errors`; the `fake_twilio`
fixture fails the test at teardown if there are any.

What it serves:
- Messages: create (201 + resource with an "SM…" sid, or a scripted error), list (To/From filters), fetch.
- IncomingPhoneNumbers: list (PhoneNumber filter), fetch, update, over the numbers the fake `own_number`s.
- Calls: fetch (`GET Calls/{Sid}.json`) of the calls the fake was told about with `call(sid, ...)`, with
  Twilio's `price` (null until rated) and `duration`; `rate(sid, price)` sets a call's or a message's price
  later, as Twilio does minutes after the call.
Scripts for message creates: `fake.script(503, 503, 201)`, `fake.script(TwilioError(400, 21211))`,
`fake.script(HANG)` (creates the message, then answers only after the client gave up: a read timeout),
`fake.script(DROP)` (closes the connection without creating anything). Unscripted creates succeed.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import functools
import json
import re
import threading
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = REPO_ROOT.parent / "shared" / "twilio-openapi" / "twilio_api_v2010.json"
TWILIO_HOST_URL = "https://api.twilio.com"

HANG = "hang"
HANG_SECONDS = 60  # until release() or stop(), at most this long
DROP = "drop"

_DEFAULT_CODES = {429: 20429, 500: 20500, 503: 20503}


@dataclass(frozen=True)
class TwilioError:
    status: int
    code: int | None = None
    message: str = ""

    def body(self) -> dict:
        code = self.code or _DEFAULT_CODES.get(self.status, self.status)
        return {
            "code": code,
            "message": self.message or f"Scripted error {code}",
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": self.status,
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]

    @property
    def data(self) -> dict[str, str]:
        return dict(self.form)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)


# --- OpenAPI validation --------------------------------------------------------------------------------------


class _Spec:
    """Twilio's OpenAPI description: openapi-core for schemas, plus the declared parameter names per operation."""

    def __init__(self, path: Path):
        from openapi_core import Config, OpenAPI

        raw = json.loads(path.read_text(encoding="utf-8"))
        # The description is valid (Twilio publishes it); skipping spec validation saves seconds per session.
        self.openapi = OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))
        self.operations: list[tuple[re.Pattern, str, set[str], set[str]]] = []
        for template, item in raw["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in item.items():
                if method not in ("get", "post", "put", "delete", "patch"):
                    continue
                query = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                body = set()
                for content in op.get("requestBody", {}).get("content", {}).values():
                    body |= set(content.get("schema", {}).get("properties", {}))
                self.operations.append((pattern, method, query, body))

    def errors(self, method: str, path: str, query: list, body: bytes, headers: dict) -> list[str]:
        from openapi_core.testing import MockRequest

        content_type = headers.get("Content-Type", "application/x-www-form-urlencoded").split(";")[0]
        request = MockRequest(
            TWILIO_HOST_URL,
            method.lower(),
            path,
            args=query,
            headers={k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type")},
            data=body if method != "GET" else None,
            content_type=content_type,
        )
        problems = []
        try:
            self.openapi.validate_request(request)
        except Exception as exc:  # openapi-core raises one of many classes; the cause says what was wrong
            problems.append(f"{method} {path}: {exc!r} caused by {exc.__cause__!r}")
        for pattern, op_method, query_names, body_names in self.operations:
            if op_method == method.lower() and pattern.match(path):
                unknown = {name for name, _ in query} - query_names
                if method != "GET":
                    unknown |= {name for name, _ in parse_qsl(body.decode(), keep_blank_values=True)} - body_names
                if unknown:
                    problems.append(f"{method} {path}: parameters the API does not declare: {sorted(unknown)}")
                break
        return problems


@functools.cache
def _spec() -> _Spec | None:
    return _Spec(OPENAPI_PATH) if OPENAPI_PATH.is_file() else None


def openapi_skip_reason() -> str | None:
    if OPENAPI_PATH.is_file():
        return None
    return f"{OPENAPI_PATH} is absent: requests to the fake Twilio are not checked against Twilio's OpenAPI."


# --- the server ----------------------------------------------------------------------------------------------


def _rfc2822(at: dt.datetime) -> str:
    return email.utils.format_datetime(at.astimezone(dt.UTC))


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class FakeTwilio:
    def __init__(self, *, account_sid: str, auth_token: str, validate: bool = True):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validate = validate and _spec() is not None
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self.messages: dict[str, dict] = {}
        self.numbers: dict[str, dict] = {}
        self.calls: dict[str, dict] = {}
        self._script: deque = deque()
        self._script_to: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        # Called with the new SID before the 201 goes back: lets a test deliver a status callback that beats
        # the app's own record of the SID, as a fast "failed" from Twilio can.
        self.on_create = None

    # -- lifecycle

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and inspection

    def script(self, *responses, to: str | None = None) -> None:
        """Answers for the next message creates, in order: 201, an error status, TwilioError, HANG or DROP;
        with `to`, only for the creates of messages to that phone (others are not affected)."""
        with self._lock:
            (self._script if to is None else self._script_to.setdefault(to, deque())).extend(responses)

    def release(self) -> None:
        """Let HANGing requests finish (their clients have long timed out)."""
        self._release.set()

    def own_number(self, phone_number: str, *, sms: bool = True, voice: bool = True, **fields) -> str:
        sid = _sid("PN")
        now = _rfc2822(dt.datetime.now(dt.UTC))
        self.numbers[sid] = {
            "account_sid": self.account_sid,
            "address_requirements": "none",
            "api_version": "2010-04-01",
            "beta": False,
            "capabilities": {"voice": voice, "sms": sms, "mms": False, "fax": False},
            "date_created": now,
            "date_updated": now,
            "friendly_name": phone_number,
            "phone_number": phone_number,
            "origin": "twilio",
            "sid": sid,
            "sms_method": "POST",
            "sms_url": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "status_callback": "",
            "status_callback_method": "POST",
            "voice_method": "POST",
            "voice_url": "",
            "voice_fallback_method": "POST",
            "voice_fallback_url": "",
            "status": "in-use",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            **fields,
        }
        return sid

    def call(self, sid: str, *, duration: int, price: str | None = None, parent_call_sid: str | None = None, **fields):
        """A call (or a dialled leg: parent_call_sid) Twilio knows; `price` as Twilio writes it ("-0.0085")."""
        now = _rfc2822(dt.datetime.now(dt.UTC))
        self.calls[sid] = {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-dial" if parent_call_sid else "inbound",
            "duration": str(duration),
            "end_time": now,
            "forwarded_from": None,
            "from": "+4917012345678",
            "from_formatted": "+4917012345678",
            "group_sid": None,
            "parent_call_sid": parent_call_sid,
            "phone_number_sid": None,
            "price": price,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": now,
            "status": "completed",
            "to": "+493012340001",
            "to_formatted": "+493012340001",
            "trunk_sid": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {},
            **fields,
        }
        return sid

    def rate(self, sid: str, price: str | None, *, price_unit: str = "USD", **fields) -> None:
        """Twilio has rated the call or message `sid`: its resource now carries the price."""
        resource = self.calls.get(sid) or self.messages[sid]
        resource.update(price=price, price_unit=price_unit, **fields)

    def requests_to(self, method: str, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    @property
    def message_creates(self) -> list[RecordedRequest]:
        return self.requests_to("POST", "/Messages.json")

    # -- status callbacks back to the app

    def status_callback(self, sid: str, status: str, *, client=None, base_url: str | None = None, error_code=None):
        """POST a signed status callback for message `sid` to the StatusCallback the app gave when creating it.

        With a Django test `client`, posts through it (returns the response); with `base_url` (a live
        server), over HTTP to the same path there (returns the HTTP status). The signature covers the
        StatusCallback URL exactly as the app sent it, as Twilio's does.
        """
        message = self.messages[sid]
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message["from"],
            "To": message["to"],
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        callback = message["status_callback"]
        signature = RequestValidator(self.auth_token).compute_signature(callback, params)
        parts = urlsplit(callback)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if client is not None:
            return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
        request = urllib.request.Request(
            base_url.rstrip("/") + path,
            data=urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
            return response.status

    # -- request handling (called from the server threads)

    def _handle(self, method: str, path: str, query: list, form: list, headers: dict, raw_body: bytes):
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, form, headers))
        if self.validate:
            problems = _spec().errors(method, path, query, raw_body, headers)
            if problems:
                with self._lock:
                    self.validation_errors.extend(problems)
                return 400, TwilioError(400, 20001, "; ".join(problems)).body()
        if not self._authorized(headers.get("Authorization", "")):
            return 401, TwilioError(401, 20003, "Authenticate").body()
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/"
        if not path.startswith(prefix):
            return 404, TwilioError(404, 20404, "The requested resource was not found").body()
        rest = path[len(prefix) :]
        data = dict(form)
        if rest == "Messages.json" and method == "POST":
            return self._message_create(data)
        if rest == "Messages.json" and method == "GET":
            wanted = dict(query)
            found = [
                m
                for m in sorted(self.messages.values(), key=lambda m: m["_created"], reverse=True)
                if m["to"] == wanted.get("To", m["to"]) and m["from"] == wanted.get("From", m["from"])
            ]
            return 200, self._page("messages", "Messages.json", found, int(wanted.get("PageSize", 50)))
        if match := re.fullmatch(r"Messages/(SM\w+)\.json", rest):
            message = self.messages.get(match[1])
            if message is None or method != "GET":
                return 404, TwilioError(404, 20404, "The requested resource was not found").body()
            return 200, self._public(message)
        if match := re.fullmatch(r"Calls/(CA\w+)\.json", rest):
            call = self.calls.get(match[1])
            if call is None or method != "GET":
                return 404, TwilioError(404, 20404, "The requested resource was not found").body()
            return 200, call
        if rest == "IncomingPhoneNumbers.json" and method == "GET":
            wanted = dict(query).get("PhoneNumber", "")
            found = [n for n in self.numbers.values() if wanted in n["phone_number"]]
            return 200, self._page("incoming_phone_numbers", "IncomingPhoneNumbers.json", found, 50)
        if match := re.fullmatch(r"IncomingPhoneNumbers/(PN\w+)\.json", rest):
            number = self.numbers.get(match[1])
            if number is None:
                return 404, TwilioError(404, 20404, "The requested resource was not found").body()
            if method == "POST":
                # Form names are CamelCase (VoiceUrl), resource fields snake_case (voice_url).
                for name, value in data.items():
                    number[re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] = value
            return 200, number
        return 404, TwilioError(404, 20404, "The requested resource was not found").body()

    def _authorized(self, header: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _message_create(self, data: dict):
        with self._lock:
            for_phone = self._script_to.get(data.get("To"))
            step = for_phone.popleft() if for_phone else self._script.popleft() if self._script else 201
        if step == DROP:
            return DROP, None
        if isinstance(step, int) and step != 201:
            step = TwilioError(step)
        if isinstance(step, TwilioError):
            return step.status, step.body()
        now = dt.datetime.now(dt.UTC)
        sid = _sid("SM")
        message = {
            "_created": now,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": data.get("Body", ""),
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": data.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "status_callback": data.get("StatusCallback", ""),
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": data.get("To"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages[sid] = message
        if self.on_create is not None:
            self.on_create(sid)
        if step == HANG:
            # Well past every client timeout (the project's default is 10 s): waiting exactly as long raced the
            # client and sometimes answered in time, so the "unanswered" message was recorded as sent.
            self._release.wait(timeout=HANG_SECONDS)
        return 201, self._public(message)

    @staticmethod
    def _public(resource: dict) -> dict:
        return {k: v for k, v in resource.items() if not k.startswith("_") and k != "status_callback"}

    def _page(self, key: str, resource: str, items: list, page_size: int) -> dict:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/{resource}"
        return {
            key: [self._public(i) for i in items[:page_size]],
            "end": max(0, min(len(items), page_size) - 1),
            "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={page_size}&Page=0",
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _serve(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        query = parse_qsl(parts.query, keep_blank_values=True)
        form = parse_qsl(raw_body.decode(), keep_blank_values=True) if raw_body else []
        status, payload = self.fake._handle(self.command, parts.path, query, form, dict(self.headers), raw_body)
        if status == DROP:
            self.close_connection = True
            return
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (HANG): nothing to tell it

    do_GET = do_POST = do_DELETE = _serve
