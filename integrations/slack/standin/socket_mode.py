"""A local stand-in for Slack's Socket Mode: the WebSocket end of ``apps.connections.open``.

How Slack does it (https://api.slack.com/apis/socket-mode): the app calls ``apps.connections.open`` with its
app-level token (``xapp-…``) and gets a one-time ``wss://`` URL; on connecting it receives ``hello``; Slack
then sends *envelopes* (``slash_commands``, ``interactive``, ``events_api``), each with an ``envelope_id``
the app must acknowledge within 3 seconds (``{"envelope_id": …, "payload": …}``; the payload of a slash
command's ack is its immediate answer). Before recycling a connection Slack sends ``{"type": "disconnect"}``
and the app opens a new one.

Here :class:`SocketModeStandIn` is that server over plain ``ws://`` (the `websockets` library, its thread
API), attached to a :class:`~integrations.slack.standin.SlackStandIn` whose ``apps.connections.open`` hands
out its URLs (:meth:`SocketModeStandIn.new_url`; each ticket works once). Tests send envelopes with
:meth:`SocketModeStandIn.send` and read the ack with :meth:`SocketModeStandIn.ack`, which, like Slack, gives
up after 3 seconds; :meth:`SocketModeStandIn.disconnect` asks the app to reconnect.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

__all__ = ["ACK_WINDOW", "Ack", "SocketModeError", "SocketModeStandIn"]

ACK_WINDOW = 3.0  # seconds Slack waits for an envelope's acknowledgement
_PATH = "/link/"


class SocketModeError(Exception):
    """The app did not do what Slack's Socket Mode expects (no connection, no ack in time)."""


@dataclass(frozen=True)
class Ack:
    """An envelope's acknowledgement: its payload (``{}`` when none) and how long it took."""

    envelope_id: str
    payload: dict[str, Any]
    seconds: float


class SocketModeStandIn:
    """Slack's Socket Mode WebSocket server on ``host``, port chosen by the system."""

    def __init__(self, *, host: str = "127.0.0.1", app_id: str = "A0TEST") -> None:
        self._host = host
        self._app_id = app_id
        self._lock = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._opened = 0
        self._sent: dict[str, float] = {}
        self._acks: dict[str, Ack] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> SocketModeStandIn:
        """Listen in a background thread."""
        self._server = serve(
            self._serve, self._host, 0, process_request=self._admit, compression=None, ping_interval=None
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # what apps.connections.open hands out

    def new_url(self) -> str:
        """A fresh one-time ``ws://`` URL for ``apps.connections.open``."""
        if self._server is None:
            raise SocketModeError("the Socket Mode stand-in is not started")
        ticket = secrets.token_hex(8)
        with self._lock:
            self._tickets.add(ticket)
        port = self._server.socket.getsockname()[1]
        return f"ws://{self._host}:{port}{_PATH}?ticket={ticket}"

    # what tests do

    @property
    def opened(self) -> int:
        """How many connections were accepted so far."""
        with self._lock:
            return self._opened

    def wait_connected(self, *, count: int = 1, timeout: float = 20) -> None:
        """Wait until ``count`` connections have been accepted and one is open."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._opened >= count and bool(self._connections), timeout):
                raise SocketModeError(f"the app did not open connection number {count} within {timeout} s")

    def send(self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool) -> str:
        """Send an envelope over the newest connection; returns its ``envelope_id``."""
        envelope_id = secrets.token_hex(12)
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            **({"retry_attempt": 0, "retry_reason": ""} if envelope_type == "events_api" else {}),
        }
        with self._lock:
            if not self._connections:
                raise SocketModeError("no Socket Mode connection is open")
            connection = self._connections[-1]
            self._sent[envelope_id] = time.monotonic()
        connection.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, *, window: float = ACK_WINDOW) -> Ack:
        """The acknowledgement of ``envelope_id``; :class:`SocketModeError` if none came within ``window``
        seconds of sending (Slack then shows the user an error, or retries an event)."""
        with self._lock:
            sent = self._sent[envelope_id]
            remaining = sent + window - time.monotonic()
            if not self._lock.wait_for(lambda: envelope_id in self._acks, max(remaining, 0)):
                raise SocketModeError(f"envelope {envelope_id} was not acknowledged within {window} s")
            return self._acks[envelope_id]

    def disconnect(self, *, reason: str = "refresh_requested") -> None:
        """Tell the app its connection is going away, as Slack does before recycling it."""
        with self._lock:
            if not self._connections:
                raise SocketModeError("no Socket Mode connection is open")
            connection = self._connections[-1]
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "socket-mode-standin"}}
        connection.send(json.dumps(message))

    # the server side

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Accept only a ticket ``apps.connections.open`` handed out, once."""
        path, _, query = request.path.partition("?")
        ticket = dict(part.partition("=")[::2] for part in query.split("&")).get("ticket", "")
        with self._lock:
            valid = path == _PATH and ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown or used ticket\n")
        return None

    def _serve(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "socket-mode-standin", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self._app_id},
        }
        connection.send(json.dumps(hello))
        with self._lock:
            self._connections.append(connection)
            self._opened += 1
            self._lock.notify_all()
        try:
            for message in connection:
                self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
                self._lock.notify_all()

    def _receive(self, message: str | bytes) -> None:
        try:
            decoded = json.loads(message)
        except ValueError:
            return
        envelope_id = decoded.get("envelope_id") if isinstance(decoded, dict) else None
        with self._lock:
            if not isinstance(envelope_id, str) or envelope_id not in self._sent:
                return
            payload = decoded.get("payload")
            self._acks[envelope_id] = Ack(
                envelope_id=envelope_id,
                payload=payload if isinstance(payload, dict) else {},
                seconds=time.monotonic() - self._sent[envelope_id],
            )
            self._lock.notify_all()
