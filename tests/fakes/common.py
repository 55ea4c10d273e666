"""The server every fake shares: a ThreadingHTTPServer on 127.0.0.1:0, scenarios, recorded requests, files."""
from __future__ import annotations

import io
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from PIL import Image

# Scenarios every fake understands (consumed one per API request, "ok" when the queue is empty):
#   ok, slow (answers after `slow_s`, longer than the client's timeout), rate_limit (429 + Retry-After),
#   server_error (500), unauthorized (401), safety (the provider's refusal), malformed (200, unreadable)
# plus provider-specific ones documented on each fake.
SCENARIOS = ("ok", "slow", "rate_limit", "server_error", "unauthorized", "safety", "malformed")


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    scenario: str = "ok"
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FormPart:
    """One part of a multipart/form-data body: its field name, file name (None for a plain field) and bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


def parse_multipart(content_type: str, body: bytes) -> list[FormPart]:
    """Split a multipart/form-data body on its boundary, byte-exact (RFC 7578); ValueError if it is not one."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not (content_type or "").startswith("multipart/form-data") or not m:
        raise ValueError(f"not multipart/form-data: {content_type!r}")
    delimiter = b"--" + m.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body without its closing boundary")
    parts = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise ValueError("multipart part not framed by CRLF")
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without headers")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not disposition.startswith("form-data") or not name:
            raise ValueError(f"multipart part without a form-data name: {disposition!r}")
        parts.append(FormPart(name.group(1), filename.group(1) if filename else None, headers.get("content-type"),
                              data))
    return parts


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def image_bytes(width: int, height: int, *, fmt: str = "PNG", mode: str = "RGB",
                color: tuple[int, ...] = (40, 120, 200)) -> bytes:
    """A small real image of the given size (solid colour; RGBA gets a transparent half)."""
    if mode == "RGBA":
        color = (*color[:3], 0)
    image = Image.new(mode, (width, height), color)
    if mode == "RGBA":
        image.paste((*color[:3], 255), (0, 0, width, max(1, height // 2)))
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


class FakeServer:
    """Subclasses implement ``route(seen) -> Reply`` (auth, scenario, validation, answer)."""

    name = "fake"

    def __init__(self) -> None:
        self.scenarios: deque[str] = deque()
        self.download_scenarios: deque[str] = deque()
        self.requests: list[Seen] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.retry_after = "1"
        self.slow_s = 3.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       name=f"{self.name}-fake", daemon=True)

    # -- life ---------------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for subclasses --------------------------------------------------------------------
    def next_scenario(self) -> str:
        with self._lock:
            return self.scenarios.popleft() if self.scenarios else "ok"

    def wait_slow(self) -> None:
        self._stop.wait(self.slow_s)

    def serve_file(self, data: bytes, content_type: str = "image/png", ext: str = "png") -> str:
        token = secrets.token_hex(8)
        # signed-URL style query, like the CDN links providers hand out
        path = f"/files/{token}.{ext}"
        with self._lock:
            self.files[path] = (data, content_type)
        return f"{self.origin}{path}?Expires=1700000000&Signature={secrets.token_hex(6)}"

    def api_requests(self) -> list[Seen]:
        return [r for r in self.requests if not r.path.startswith("/files/")]

    def route(self, seen: Seen) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def _download(self, seen: Seen) -> Reply:
        with self._lock:
            scenario = self.download_scenarios.popleft() if self.download_scenarios else "ok"
        seen.scenario = scenario
        if scenario == "slow":
            self.wait_slow()
        if scenario == "missing" or seen.path not in self.files:
            return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})
        if scenario == "server_error":
            return Reply(503, b"Service Unavailable", {"Content-Type": "text/plain", "Retry-After": self.retry_after})
        if scenario == "garbage":
            return Reply(200, b"\x89PNG-not-really", {"Content-Type": "image/png"})
        data, content_type = self.files[seen.path]
        return Reply(200, data, {"Content-Type": content_type})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(method=self.command, path=parts.path, query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    raw_query=parts.query, headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        with self.fake._lock:
            self.fake.requests.append(seen)
        try:
            reply = self.fake._download(seen) if parts.path.startswith("/files/") else self.fake.route(seen)
        except Exception as exc:  # a bug in a fake must show, not hang the client
            reply = Reply(599, f"fake crashed: {type(exc).__name__}: {exc}".encode(), {"Content-Type": "text/plain"})
        try:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            self.close_connection = True

    do_GET = do_POST = _serve
