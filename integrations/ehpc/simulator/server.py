"""The simulator on the wire: a threaded HTTP/1.1 server the official SDK talks to as to the cloud.

``/`` is the signed API (V3 or V1, GET or form POST); ``/_admin/…`` the unsigned admin endpoint (see
:mod:`integrations.ehpc.simulator.admin`); any other path answers 404 ``InvalidAction.NotFound``.
Credentials come from the constructor or, failing that, from ``ALIBABA_CLOUD_ACCESS_KEY_ID`` /
``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` / ``ALIBABA_CLOUD_SECURITY_TOKEN`` — the variables the client reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from integrations.ehpc.simulator.admin import ADMIN_PREFIX, handle_admin
from integrations.ehpc.simulator.auth import Authenticator, Credential, IncomingRequest
from integrations.ehpc.simulator.errors import ApiError, new_request_id
from integrations.ehpc.simulator.service import Answer, Simulator, error_answer

__all__ = ["SimulatorServer"]

_MAX_BODY = 1 << 20


class SimulatorServer:
    """Serves a :class:`Simulator` over HTTP on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        *,
        simulator: Simulator | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
    ) -> None:
        key_id = access_key_id or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        secret = access_key_secret or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        if not key_id or not secret:
            raise ValueError(
                "no AccessKey to accept: pass access_key_id/access_key_secret or set "
                "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            )
        if access_key_id is None and security_token is None:
            security_token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        self.simulator = simulator or Simulator()
        self.access_key_id = key_id
        self._authenticator = Authenticator([Credential(key_id, secret, security_token)])
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host_port(self) -> str:
        """``host:port`` as the SDK's ``Config(endpoint=…)`` wants it."""
        if self._httpd is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def endpoint(self) -> str:
        """``http://host:port``, as ``EHPC_ENDPOINT`` wants it."""
        return f"http://{self.host_port}"

    def start(self) -> None:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that stop() returns at once
            name="ehpc-simulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, cut open connections and wake slow answers."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def answer(self, request: IncomingRequest, *, host_id: str) -> Answer:
        """The answer to one API request (the handler threads call this)."""
        return self.simulator.handle(request, authenticator=self._authenticator, host_id=host_id)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: SimulatorServer) -> None:
        super().__init__(address, _Handler)
        self.owner = owner
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (after its read timeout, say) is normal here; anything else is reported."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):  # already gone
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait for a delayed ACK
    server: _HTTPServer
    server_version = "Tengine"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator keeps its own request log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_BODY)) if length else b""
        if url.path.startswith(ADMIN_PREFIX):
            self._admin(url.path, body)
            return
        host_id = self.headers.get("Host", "ehpc.cn-hangzhou.aliyuncs.com")
        if url.path != "/":
            error = ApiError("InvalidAction.NotFound")
            answer = error_answer(error, request_id=new_request_id(), host_id=host_id)
            self._write(answer.status, answer.headers, answer.body or b"")
            return
        headers = {
            name.lower(): ",".join(self.headers.get_all(name, [])) for name in set(self.headers.keys())
        }
        form = None
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        request = IncomingRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            form=form,
        )
        answer = self.server.owner.answer(request, host_id=host_id)
        if answer.delay:
            self.server.stopping.wait(answer.delay)
        if answer.body is None:
            self.close_connection = True  # drop: not one byte of answer
            return
        self._write(answer.status, answer.headers, answer.body)

    def _admin(self, path: str, body: bytes) -> None:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            status, result = 400, {"error": "the body is not JSON"}
        else:
            status, result = handle_admin(
                self.server.owner.simulator, method=self.command, path=path, body=data
            )
        self._write(status, {"Content-Type": "application/json"}, json.dumps(result).encode())

    def _write(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
