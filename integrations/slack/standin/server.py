"""A local stand-in for the Slack Web API methods ehpc-bridge uses, shipped for the demo and the tests.

It speaks the wire format slack-sdk speaks (JSON or form bodies, ``Authorization: Bearer``), keeps messages
per channel with their ts, thread replies, edit history and metadata, and can print every post and edit
readably (``ehpc-bridge demo`` without ``SLACK_BOT_TOKEN``). Failure scenarios, as in slack-sdk's own mock
server, are chosen by the token string (``xoxb-…ratelimited…`` answers 429, ``xoxb-…server-error…`` 500,
``xoxb-…invalid…`` ``invalid_auth``) or set from Python, each as the real Web API answers it:

- :meth:`SlackStandIn.fail_next`: the next calls (of one method, or any) answer an error — 429 with
  ``Retry-After``, a 5xx, or any ``ok: false`` code; nothing is stored.
- :meth:`SlackStandIn.answer_late` and :meth:`SlackStandIn.reset_after_read`: the next call is carried out
  (the message *is* stored) but its answer comes only after the client gave up, or the connection is reset
  instead of answered — the ambiguous cases, where the caller can't know whether it was posted.
- :meth:`SlackStandIn.answer_slowly`: the next calls are held a while, then carried out and answered.
- :meth:`SlackStandIn.refuse_history`: ``conversations.history``/``replies`` answer ``not_in_channel`` (a
  bot posting through ``chat:write.public``) or ``missing_scope`` with ``needed``/``provided``.
- :meth:`SlackStandIn.on_stored`: a hook run after a message is stored, before it is answered (a test kills
  a process at that very moment).

History is paged as Slack pages it: newest first, ``limit`` (default 100, at most 999), ``oldest`` and
``latest`` exclusive unless ``inclusive``, and ``response_metadata.next_cursor`` while ``has_more``.

Methods: ``auth.test``, ``chat.postMessage``, ``chat.update``, ``conversations.history``,
``conversations.replies``, and (:mod:`~integrations.slack.standin.workspace`) ``usergroups.users.list`` and
``views.publish``, and ``apps.connections.open`` once :meth:`SlackStandIn.enable_socket_mode` started
the Socket Mode server (:mod:`~integrations.slack.standin.socket_mode`). Anything else answers
``unknown_method``.

Beside the API (under ``/api/``) it serves ``/healthz`` and a web page of its channels at ``/``
(:mod:`integrations.slack.standin.page`), kept live over server-sent events with a long-polling fallback.
Every stored message carries the revision of its last change, so a page asks "what changed after revision
N" and gets each changed message once, whatever it missed meanwhile. A channel keeps its newest
``max_messages`` top-level messages (with their threads); older ones are forgotten.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from integrations.slack.standin import page
from integrations.slack.standin.emoji import draw_emoji
from integrations.slack.standin.mrkdwn import slack_unescape
from integrations.slack.standin.workspace import Workspace, WorkspaceError

if TYPE_CHECKING:
    from integrations.slack.standin.socket_mode import SocketModeStandIn

__all__ = ["Changes", "RecordedRequest", "SlackStandIn", "StoredMessage", "format_message"]

_MAX_BLOCKS = 50
_MAX_TEXT = 40000
_BOT_USER = "U0STANDIN"
_BOT_ID = "B0STANDIN"
_JSON_FIELDS = ("blocks", "metadata", "attachments")  # JSON-encoded strings in form bodies
_MAX_TOMBSTONES = 10_000  # deletions remembered for pages that are behind
_KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies drop silent ones)
_MAX_WAIT = 25  # longest long-poll of /page/changes, seconds
_API_PATH = "/api/"


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as it arrived, kept so tests can validate it against the Slack spec."""

    http_method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def api_method(self) -> str:
        """The Web API method name, e.g. ``chat.postMessage``."""
        return self.path.rsplit("/", 1)[-1]


@dataclass
class StoredMessage:
    """A message as the stand-in holds it; ``edits`` keeps every earlier (text, blocks)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    edits: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    revision: int = 0  # the stand-in's change counter when this message last changed

    def to_api(self, *, replies: int = 0, with_metadata: bool = True) -> dict[str, Any]:
        """The message object as Slack returns it in API responses."""
        body: dict[str, Any] = {
            "type": "message",
            "user": _BOT_USER,
            "bot_id": _BOT_ID,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        elif replies:
            body |= {"thread_ts": self.ts, "reply_count": replies}
        if self.edits:
            body["edited"] = {"user": _BOT_USER, "ts": self.ts}
        if with_metadata and self.metadata:
            body["metadata"] = self.metadata
        return body


# What the next matching call does instead of answering normally.
_FAIL, _LATE, _RESET, _SLOW = "fail", "late", "reset", "slow"
_HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})
_HISTORY_SCOPES = "channels:history,groups:history"
_POSTING_SCOPES = "chat:write,chat:write.public"
# How long a late answer waits for the client to give up before it is sent anyway.
_LATE_LIMIT = 120.0


@dataclass(frozen=True)
class Changes:
    """What changed after a revision: copies of the changed messages and the (channel, ts) deleted.

    ``complete`` is false when deletions older than what is still remembered were missed: start over.
    """

    revision: int
    messages: list[StoredMessage]
    deleted: list[tuple[str, str]]
    complete: bool = True


@dataclass(frozen=True)
class _Behaviour:
    kind: str
    method: str | None  # None: the next call whatever its method
    status: int = 200
    error: str = ""
    retry_after: int | None = None
    stored: bool = True  # reset: carry the call out first (True) or drop it unread (False)
    delay: float = 0.0  # slow: seconds before the call is carried out and answered
    event_type: str | None = None  # only calls carrying message metadata of this event type

    def applies(self, method: str, params: dict[str, Any]) -> bool:
        if self.method is not None and self.method != method:
            return False
        metadata = params.get("metadata")
        sent = metadata.get("event_type") if isinstance(metadata, dict) else None
        return self.event_type is None or sent == self.event_type


class _ApiError(Exception):
    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        retry_after: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after
        self.extra = extra or {}


class _Withheld(Exception):
    """The call was carried out (or dropped) but gets no normal answer: late, or a reset connection."""

    def __init__(self, kind: str, answer: dict[str, Any] | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.answer = answer


class SlackStandIn:
    """A threaded HTTP server answering like Slack's Web API; use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        printer: Callable[[str], None] | None = None,
        channels: Iterable[str] | None = None,
        max_messages: int = 1000,
    ) -> None:
        self._address = (host, port)
        self._printer = printer
        self._channels = None if channels is None else frozenset(channels)
        self._max_messages = max_messages
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: dict[str, list[StoredMessage]] = {}
        self._requests: list[RecordedRequest] = []
        self._behaviours: list[_Behaviour] = []
        self._history_refusals: dict[str | None, str] = {}
        self._stored_hooks: list[Callable[[StoredMessage], None]] = []
        self._last_ts = 0.0
        self._last_stored: StoredMessage | None = None
        self._revision = 0
        self._tombstones: deque[tuple[int, str, str]] = deque()
        self._forgotten = 0  # the newest revision whose tombstone was dropped
        self._closing = False
        # Tells a page that the stand-in it talks to was restarted (revisions start again from 0).
        self.instance = secrets.token_hex(8)
        self.workspace = Workspace()  # user groups and App Home views
        self.socket_mode: SocketModeStandIn | None = None  # see enable_socket_mode
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> SlackStandIn:
        """Bind and serve in a background thread (port 0 picks a free port)."""
        server = ThreadingHTTPServer(self._address, _handler_for(self))
        server.daemon_threads = True
        with self._lock:
            self._closing = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (open event streams end)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        if self.socket_mode is not None:
            self.socket_mode.stop()
            self.socket_mode = None

    def enable_socket_mode(self) -> SocketModeStandIn:
        """Serve Socket Mode too: ``apps.connections.open`` (app token ``xapp-…``) hands out its URLs."""
        if self.socket_mode is None:
            # imported here: the websockets library is a test dependency, the demo never needs it
            from integrations.slack.standin.socket_mode import SocketModeStandIn

            self.socket_mode = SocketModeStandIn().start()
        return self.socket_mode

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to give ``WebClient(base_url=…)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    @property
    def page_url(self) -> str:
        """The web page of the channels, e.g. ``http://127.0.0.1:PORT/``."""
        return self.base_url.removesuffix("api/")

    # inspection and scenarios

    def messages(self, channel: str) -> list[StoredMessage]:
        """Top-level messages of ``channel``, oldest first."""
        with self._lock:
            return [m for m in self._messages.get(channel, []) if m.thread_ts is None]

    def replies(self, channel: str, ts: str) -> list[StoredMessage]:
        """Thread replies under the message ``ts`` of ``channel``, oldest first."""
        with self._lock:
            return [m for m in self._messages.get(channel, []) if m.thread_ts == ts]

    def channels(self) -> list[str]:
        """Channels that have received a message, in the order they first did."""
        with self._lock:
            return list(self._messages)

    def revision(self) -> int:
        """The change counter: it grows by one with every post, edit and deletion."""
        with self._lock:
            return self._revision

    @property
    def closing(self) -> bool:
        """True once :meth:`stop` was called: open event streams end."""
        with self._lock:
            return self._closing

    def wait_for_changes(self, *, after: int, timeout: float) -> Changes:
        """Block up to ``timeout`` seconds until something changes after revision ``after``; say what."""
        with self._changed:
            self._changed.wait_for(lambda: self._revision > after or self._closing, timeout)
            changed = [replace(m) for stored in self._messages.values() for m in stored if m.revision > after]
            deleted = [(channel, ts) for revision, channel, ts in self._tombstones if revision > after]
            complete = after >= self._forgotten or after == 0
            return Changes(self._revision, sorted(changed, key=lambda m: m.revision), deleted, complete)

    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def delete(self, channel: str, ts: str) -> None:
        """Delete a message (and its thread) as a person in the channel could."""
        with self._lock:
            self._forget(channel, {ts})

    def fail_next(
        self,
        *,
        count: int = 1,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = None,
        method: str | None = None,
        event_type: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls (of ``method``, or any) with ``status``/``error``; nothing is
        stored. 429 sends Retry-After (default 1 s). ``event_type`` narrows it to calls carrying message
        metadata of that event type (``ehpc_digest``, ``ehpc_mute_summary``…); other calls pass meanwhile."""
        if status == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        failure = _Behaviour(
            _FAIL, method, status=status, error=error, retry_after=retry_after, event_type=event_type
        )
        with self._lock:
            self._behaviours.extend(failure for _ in range(count))

    def answer_late(self, *, method: str = "chat.postMessage", count: int = 1) -> None:
        """Carry out the next ``count`` ``method`` calls but answer only once the client has hung up (its
        timeout), as a Slack that stored the message and then stalled would."""
        with self._lock:
            self._behaviours.extend(_Behaviour(_LATE, method) for _ in range(count))

    def answer_slowly(self, *, seconds: float, method: str | None = None, count: int = 1) -> None:
        """Hold the next ``count`` calls (of ``method``, or any) ``seconds`` before carrying them out and
        answering normally: a slow Slack, still within the client's timeout."""
        with self._lock:
            self._behaviours.extend(_Behaviour(_SLOW, method, delay=seconds) for _ in range(count))

    def reset_after_read(
        self, *, method: str = "chat.postMessage", count: int = 1, stored: bool = True
    ) -> None:
        """Read the next ``count`` ``method`` requests, carry them out (unless ``stored=False``), then reset
        the connection instead of answering."""
        with self._lock:
            self._behaviours.extend(_Behaviour(_RESET, method, stored=stored) for _ in range(count))

    def refuse_history(self, *, error: str = "not_in_channel", channel: str | None = None) -> None:
        """From now on ``conversations.history``/``replies`` (of ``channel``, or every channel) answer
        ``error``: ``not_in_channel`` or ``missing_scope`` (with ``needed``/``provided``, as Slack does)."""
        with self._lock:
            self._history_refusals[channel] = error

    def allow_history(self) -> None:
        """Undo :meth:`refuse_history` for every channel."""
        with self._lock:
            self._history_refusals.clear()

    def on_stored(self, hook: Callable[[StoredMessage], None]) -> None:
        """Call ``hook`` with every message right after it is stored (or edited), before it is answered."""
        with self._lock:
            self._stored_hooks.append(hook)

    # request handling (called from the server threads)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _dispatch(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        with self._lock:
            behaviour = next((b for b in self._behaviours if b.applies(method, params)), None)
            if behaviour is not None:
                self._behaviours.remove(behaviour)
        if behaviour is not None and behaviour.kind == _FAIL:
            raise _ApiError(behaviour.error, status=behaviour.status, retry_after=behaviour.retry_after)
        if behaviour is not None and behaviour.kind == _SLOW:
            time.sleep(behaviour.delay)  # the server thread stands for a slow Slack; the test waits on it
            behaviour = None
        if behaviour is not None and not behaviour.stored:
            raise _Withheld(behaviour.kind)
        if method == "apps.connections.open":
            return self._open_connection(token)
        _check_token(token)
        if method in _WORKSPACE_METHODS:
            try:
                return _WORKSPACE_METHODS[method](self.workspace, params, token or "")
            except WorkspaceError as error:
                raise _ApiError(error.error) from None
        handler = _METHODS.get(method)
        if handler is None:
            raise _ApiError("unknown_method")
        with self._lock:
            if method in _HISTORY_METHODS:
                self._check_history_access(params)
            answer = handler(self, params)
            hooks = list(self._stored_hooks) if method in _STORING_METHODS else []
            stored = self._last_stored
        for hook in hooks:
            if stored is not None:
                hook(stored)
        if behaviour is not None:
            raise _Withheld(behaviour.kind, answer)
        return answer

    def _open_connection(self, token: str | None) -> dict[str, Any]:
        """``apps.connections.open``: a Socket Mode URL, for an app-level token only."""
        if not token:
            raise _ApiError("not_authed")
        if not token.startswith("xapp-") or "invalid" in token:
            raise _ApiError("invalid_auth" if "invalid" in token else "not_allowed_token_type")
        if self.socket_mode is None:
            raise _ApiError("socket_mode_not_enabled")  # the app's settings do not enable Socket Mode
        return {"url": self.socket_mode.new_url()}

    def _check_history_access(self, params: dict[str, Any]) -> None:
        error = self._history_refusals.get(str(params.get("channel")), self._history_refusals.get(None))
        if error == "missing_scope":
            raise _ApiError(error, extra={"needed": _HISTORY_SCOPES, "provided": _POSTING_SCOPES})
        if error is not None:
            raise _ApiError(error)

    def _channel(self, params: dict[str, Any]) -> list[StoredMessage]:
        channel = params.get("channel")
        if not channel:
            raise _ApiError("channel_not_found")
        if self._channels is not None and channel not in self._channels:
            raise _ApiError("channel_not_found")
        return self._messages.setdefault(str(channel), [])

    def _touch(self, message: StoredMessage) -> None:
        """Give ``message`` the next revision and wake the pages waiting for it (the lock is held)."""
        self._revision += 1
        message.revision = self._revision
        self._changed.notify_all()

    def _forget(self, channel: str, parents: set[str]) -> None:
        """Delete the messages ``parents`` of ``channel`` with their threads, leaving tombstones."""
        stored = self._messages.get(channel, [])
        gone = [m for m in stored if m.ts in parents or m.thread_ts in parents]
        if not gone:
            return
        gone_ts = {m.ts for m in gone}
        self._messages[channel] = [m for m in stored if m.ts not in gone_ts]
        self._revision += 1
        self._tombstones.extend((self._revision, channel, m.ts) for m in gone)
        while len(self._tombstones) > _MAX_TOMBSTONES:
            self._forgotten = self._tombstones.popleft()[0]
        self._changed.notify_all()

    def _next_ts(self) -> str:
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://standin.slack.invalid/",
            "team": "ehpc-bridge stand-in",
            "user": "ehpc-bridge",
            "team_id": "T0STANDIN",
            "user_id": _BOT_USER,
            "bot_id": _BOT_ID,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._channel(params)
        text, blocks = _content(params, required=True)
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None and not any(m.ts == thread_ts and m.thread_ts is None for m in stored):
            raise _ApiError("thread_not_found")
        metadata = params.get("metadata") if isinstance(params.get("metadata"), dict) else None
        message = StoredMessage(str(params["channel"]), self._next_ts(), text, blocks, metadata, thread_ts)
        stored.append(message)
        self._last_stored = message
        self._touch(message)
        top = [m.ts for m in stored if m.thread_ts is None]
        if len(top) > self._max_messages:
            self._forget(message.channel, set(top[: len(top) - self._max_messages]))
        self._print(message, "reply" if thread_ts else "new")
        return {"channel": message.channel, "ts": message.ts, "message": message.to_api()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._channel(params)
        message = next((m for m in stored if m.ts == params.get("ts")), None)
        if message is None:
            raise _ApiError("message_not_found")
        text, blocks = _content(params, required=False)
        message.edits.append((message.text, message.blocks))
        message.text = text or message.text
        message.blocks = blocks if "blocks" in params else message.blocks
        if isinstance(params.get("metadata"), dict):
            message.metadata = params["metadata"]
        self._last_stored = message
        self._touch(message)
        self._print(message, "edit")
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_api(),
        }

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._channel(params)
        window = _window(params)
        limit = min(max(int(params.get("limit") or 100), 1), 999)
        with_metadata = _truthy(params.get("include_all_metadata"))
        top = [m for m in stored if m.thread_ts is None and window(float(m.ts))]
        newest_first = sorted(top, key=lambda m: float(m.ts), reverse=True)
        start = _cursor_offset(params.get("cursor"))
        chosen = newest_first[start : start + limit]
        page = [
            m.to_api(replies=sum(1 for r in stored if r.thread_ts == m.ts), with_metadata=with_metadata)
            for m in chosen
        ]
        return {
            "messages": page,
            "pin_count": 0,
            **_paging(more=len(newest_first) > start + limit, next_offset=start + limit),
        }

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._channel(params)
        parent = next((m for m in stored if m.ts == params.get("ts") and m.thread_ts is None), None)
        if parent is None:
            raise _ApiError("thread_not_found")
        window = _window(params)
        limit = min(max(int(params.get("limit") or 1000), 1), 1000)
        with_metadata = _truthy(params.get("include_all_metadata"))
        replies = [m for m in stored if m.thread_ts == parent.ts]
        # The parent comes first on every page, as Slack sends it; the window and the cursor page replies.
        chosen = [m for m in replies if window(float(m.ts))]
        start = _cursor_offset(params.get("cursor"))
        page = [parent, *chosen[start : start + limit]]
        messages = [m.to_api(replies=len(replies), with_metadata=with_metadata) for m in page]
        return {"messages": messages, **_paging(more=len(chosen) > start + limit, next_offset=start + limit)}

    def _print(self, message: StoredMessage, action: str) -> None:
        if self._printer is not None:
            self._printer(format_message(message, action=action))


_STORING_METHODS = frozenset({"chat.postMessage", "chat.update"})
_METHODS: dict[str, Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": SlackStandIn._auth_test,
    "chat.postMessage": SlackStandIn._post_message,
    "chat.update": SlackStandIn._update,
    "conversations.history": SlackStandIn._history,
    "conversations.replies": SlackStandIn._replies,
}


_WORKSPACE_METHODS: dict[str, Callable[[Workspace, dict[str, Any], str], dict[str, Any]]] = {
    "usergroups.users.list": Workspace.usergroup_users,
    "views.publish": lambda workspace, params, _token: workspace.publish(params),
}


def format_message(message: StoredMessage, *, action: str) -> str:
    """A message as readable terminal lines: a header naming channel and ts, then each block's text."""
    where = f"thread {message.thread_ts}" if message.thread_ts else f"ts {message.ts}"
    lines = [f"── #{message.channel} · {action} · {where} " + "─" * 20]
    for block in message.blocks:
        if block.get("type") == "actions":
            continue  # buttons are for clicking in Slack, not news for the terminal
        texts = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        lines.extend(_unescape(t["text"]) for t in texts if isinstance(t, dict) and "text" in t)
    if not message.blocks:
        lines.append(_unescape(message.text))
    return "\n".join("  " + line.replace("\n", "\n  ") for line in lines)


def _unescape(text: str) -> str:
    """Slack's mrkdwn as a terminal would show it: entities decoded, emoji codes drawn."""
    return draw_emoji(slack_unescape(text))


def _window(params: dict[str, Any]) -> Callable[[float], bool]:
    """Whether a ts lies between ``oldest`` and ``latest`` (both exclusive unless ``inclusive``)."""
    try:
        oldest = float(params.get("oldest") or 0)
    except ValueError:
        raise _ApiError("invalid_ts_oldest") from None
    try:
        latest = float(params.get("latest") or "inf")
    except ValueError:
        raise _ApiError("invalid_ts_latest") from None
    if _truthy(params.get("inclusive")):
        return lambda ts: oldest <= ts <= latest
    return lambda ts: oldest < ts < latest


def _cursor_offset(cursor: object) -> int:
    """Where a ``next_cursor`` from :func:`_paging` resumes (an opaque base64 string, as Slack's are)."""
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.b64decode(str(cursor), validate=True).decode().partition(":")
        if kind != "next_offset":
            raise ValueError(kind)
        return int(offset)
    except ValueError:
        raise _ApiError("invalid_cursor") from None


def _paging(*, more: bool, next_offset: int) -> dict[str, Any]:
    cursor = base64.b64encode(f"next_offset:{next_offset}".encode()).decode() if more else ""
    return {"has_more": more, "response_metadata": {"next_cursor": cursor}}


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _check_token(token: str | None) -> None:
    if not token:
        raise _ApiError("not_authed")
    if "ratelimited" in token:
        raise _ApiError("ratelimited", status=HTTPStatus.TOO_MANY_REQUESTS, retry_after=3)
    if "server-error" in token:
        raise _ApiError("internal_error", status=HTTPStatus.INTERNAL_SERVER_ERROR)
    if not token.startswith("xoxb-") or "invalid" in token:
        raise _ApiError("invalid_auth")


def _content(params: dict[str, Any], *, required: bool) -> tuple[str, list[dict[str, Any]]]:
    text = params.get("text") or ""
    blocks = params.get("blocks") or []
    if not isinstance(text, str) or not isinstance(blocks, list):
        raise _ApiError("invalid_arguments")
    if required and not text and not blocks:
        raise _ApiError("no_text")
    if len(blocks) > _MAX_BLOCKS:
        raise _ApiError("invalid_blocks")
    if len(text) > _MAX_TEXT:
        raise _ApiError("msg_too_long")
    return text, blocks


def _parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Query and body parameters as one dict; form bodies carry JSON fields as strings, decoded here."""
    params: dict[str, Any] = {key: values[-1] for key, values in parse_qs(query).items()}
    if content_type.startswith("application/json") and body:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise _ApiError("invalid_json")
        params |= decoded
    elif body:
        params |= {key: values[-1] for key, values in parse_qs(body.decode()).items()}
        for name in _JSON_FIELDS:
            if isinstance(params.get(name), str):
                try:
                    params[name] = json.loads(params[name])
                except ValueError:
                    raise _ApiError(f"invalid_{name}") from None
    return params


def _number(query: dict[str, list[str]], name: str) -> int:
    """A non-negative integer query parameter (0 when absent or not a number)."""
    value = query.get(name, ["0"])[-1]
    return int(value) if value.isdigit() else 0


def _handler_for(standin: SlackStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the stand-in prints messages, not access logs."""

        def _handle(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "GET" and not url.path.startswith("/api/"):
                self._serve_page(url.path, parse_qs(url.query))
                return
            request = RecordedRequest(self.command, url.path, url.query, dict(self.headers.items()), body)
            standin._record(request)
            auth = self.headers.get("Authorization", "")
            try:
                if not url.path.startswith("/api/"):
                    raise _ApiError("unknown_method", status=HTTPStatus.NOT_FOUND)
                params = _parse_params(self.headers.get("Content-Type", ""), body, url.query)
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
                answer = {"ok": True, **standin._dispatch(request.api_method, params, token)}
                self._send(HTTPStatus.OK, answer, retry_after=None)
            except _Withheld as withheld:
                self._withhold(withheld)
            except _ApiError as error:
                payload = {"ok": False, "error": error.error, **error.extra}
                self._send(error.status, payload, retry_after=error.retry_after)
            except ValueError:
                self._send(HTTPStatus.OK, {"ok": False, "error": "invalid_arguments"}, retry_after=None)

        def _withhold(self, withheld: _Withheld) -> None:
            """Reset the connection, or answer only after the client hung up (or ``_LATE_LIMIT``)."""
            self.close_connection = True
            if withheld.kind == _LATE and withheld.answer is not None:
                readable, _, _ = select.select([self.connection], [], [], _LATE_LIMIT)
                gone = bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
                if not gone:
                    with contextlib.suppress(OSError):  # the client hung up meanwhile: that is the point
                        self._send(HTTPStatus.OK, {"ok": True, **withheld.answer}, retry_after=None)
                    return
            # SO_LINGER 0: close sends RST, so the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        def _serve_page(self, path: str, query: dict[str, list[str]]) -> None:
            """The web page, its assets, its live updates and ``/healthz``; never recorded as API calls."""
            after = _number(query, "after")
            if path == "/healthz":
                self._send(HTTPStatus.OK, {"ok": True, "revision": standin.revision()}, retry_after=None)
            elif path == "/":
                snapshot = standin.wait_for_changes(after=0, timeout=0)
                document = page.render_page(snapshot=snapshot, instance=standin.instance, api_url=_API_PATH)
                self._reply(HTTPStatus.OK, "text/html; charset=utf-8", document.encode())
            elif path == "/page/changes":
                wait = min(max(_number(query, "wait"), 0), _MAX_WAIT)
                changes = standin.wait_for_changes(after=after, timeout=wait)
                self._send(HTTPStatus.OK, page.changes_document(changes, instance=standin.instance), None)
            elif path == "/page/stream":
                self._stream(after)
            elif (asset := page.asset(path.removeprefix("/static/"))) and path.startswith("/static/"):
                self._reply(HTTPStatus.OK, *asset)
            else:
                self._reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

        def _stream(self, after: int) -> None:
            """Server-sent events: a ``hello``, then one ``changes`` event per batch, comments when idle."""
            resumed = self.headers.get("Last-Event-ID", "")
            after = int(resumed) if resumed.isdigit() else after
            self.close_connection = True
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")  # nginx: pass events through unbuffered
            self.send_header("Connection", "close")
            self.end_headers()
            hello = {"instance": standin.instance, "revision": standin.revision()}
            try:
                self.wfile.write(f"retry: 2000\nevent: hello\ndata: {json.dumps(hello)}\n\n".encode())
                self.wfile.flush()
                while not standin.closing:
                    changes = standin.wait_for_changes(after=after, timeout=_KEEPALIVE)
                    if changes.revision > after or not changes.complete:
                        data = json.dumps(page.changes_document(changes, instance=standin.instance))
                        self.wfile.write(f"id: {changes.revision}\nevent: changes\ndata: {data}\n\n".encode())
                        after = changes.revision
                    else:
                        self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return  # the page was closed

        def _reply(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(data)

        def _send(self, status: int, payload: dict[str, Any], retry_after: int | None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(data)

    return Handler
