"""Delivers transitions to Slack: one parent message per task, edited in place, and one reply per ending.

The first transition of a task posts its parent message; later ones ``chat.update`` it (never with an
older ``sequence`` than already shown). FINISHED also posts one thread reply with the details, STALLED one
thread warning. Where each task's message lives is kept behind
:class:`~integrations.base.MessageRefStore` (the worker hands in its Redis store).

Exactly once, even when a worker dies between posting and recording: every message carries Slack message
metadata naming its ``task_key`` and ``fingerprint``. Before posting, the store notes the attempt and when
it began. Ambiguous is not the same as failed:

- an *answer* that says nothing was posted (429, an ``ok: false`` error, a 5xx from Slack itself) or a
  connection that was never made: the mark is forgotten and the retry posts again without a lookup;
- no answer after the request was sent (a timeout, a reset connection, a gateway's non-Slack 5xx) or a
  worker killed mid-call: the mark stays, and the next attempt looks the message up by its metadata in
  ``conversations.history`` (parent) or ``conversations.replies`` (reply) from that attempt's time onward,
  following ``cursor`` pages, and adopts it instead of posting again.

When history can't be read (``not_in_channel``: the bot posts through ``chat:write.public``;
``missing_scope``: no ``channels:history``/``groups:history``) the notifier posts anyway — at least once
beats lost — and reports it through ``on_history_refused`` (a metric); a refused lookup never fails a
delivery. ``ehpc-bridge check`` says which channel lacks which scope or membership (:meth:`check_history`).

Errors (see :mod:`integrations.base`): HTTP 429 → ``RetryableDeliveryError`` with the Retry-After seconds;
5xx, Slack's transient error codes, timeouts and dropped connections → ``RetryableDeliveryError``; any
other Slack error (``channel_not_found``, ``invalid_auth`` …) → ``PermanentDeliveryError``. Neither the
token nor the SDK's exception text is ever put in a message or a log line.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.error import URLError

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from integrations.base import (
    ChannelRecord,
    DeliveryError,
    MessageRef,
    MessageRefStore,
    PermanentDeliveryError,
    PostedTask,
    RetryableDeliveryError,
    Transition,
    TransitionKind,
)
from integrations.http import parse_retry_after
from integrations.slack.answers import task_actions_block
from integrations.slack.render import (
    SlackMessage,
    render_digest,
    render_final_reply,
    render_lost_notice,
    render_stalled_warning,
    render_task_message,
)
from integrations.target import NotifierContext, SlackTarget, TargetSetupError

__all__ = ["DEFAULT_BASE_URL", "ChannelRecord", "PostedTask", "SlackNotifier", "build_slack_notifier"]

DEFAULT_BASE_URL = "https://slack.com/api/"
DESTINATION = "slack"
PARENT_EVENT = "ehpc_task"
REPLY_EVENT = "ehpc_task_reply"
DIGEST_EVENT = "ehpc_digest"
REBUILT_EVENT = "ehpc_state_rebuilt"
_PARENT_ATTEMPT = "parent"
_POSTED = "posted"  # reply-field name recording the ts of a standalone message posted once
_DIGESTED = "digest"  # reply-field name recording the digest that announced a task
# The transitions that close a task: shown whatever sequence the message is at.
_ENDS = frozenset({TransitionKind.FINISHED, TransitionKind.LOST})
# Slack answers these with HTTP 200 and ok=false, yet trying later can succeed.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# How far before an attempt's start (our clock) its message may carry a Slack ts (clock skew margin).
_HISTORY_MARGIN = timedelta(minutes=5)
# Lookups read at most this many pages of 200 (40,000 messages) before giving up and posting.
_MAX_HISTORY_PAGES = 200
# Slack's answers to a history read the bot is not allowed to make; retrying can't change them.
_HISTORY_REFUSALS = frozenset({"not_in_channel", "missing_scope", "access_denied", "channel_not_found"})

logger = logging.getLogger(__name__)


class SlackNotifier:
    """The Slack destination (:class:`integrations.base.Notifier`), posting to one channel."""

    def __init__(
        self,
        *,
        token: str,
        channel: str,
        refs: MessageRefStore,
        base_url: str = DEFAULT_BASE_URL,
        timeout: int = 10,
        history_limit: int = 200,
        on_history_refused: Callable[[str, str], None] | None = None,
        before_call: Callable[[], None] | None = None,
    ) -> None:
        """``before_call`` runs before every Web API call (the caller renews its delivery lease there, so a
        send of several calls never outlives it); ``on_history_refused(channel, error)`` counts lookups
        Slack refused."""
        # retry_handlers=[]: the caller owns the retry policy (Celery countdowns), the SDK must not sleep.
        self._client = WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
        self._channel = channel
        self._refs = refs
        self._history_limit = history_limit
        self._on_history_refused = on_history_refused
        self._before_call = before_call

    @property
    def channel(self) -> str:
        """The channel this notifier posts to."""
        return self._channel

    def check(self) -> str:
        """Call ``auth.test`` (https://api.slack.com/methods/auth.test); returns ``team / bot user``."""
        answer = self._call("auth.test", self._client.auth_test)
        return f"{answer.get('team')} / {answer.get('user')}"

    def check_history(self) -> str:
        """Read one message of the channel's history (https://api.slack.com/methods/conversations.history).

        Raises :class:`PermanentDeliveryError` saying what is missing — membership (``not_in_channel``) or
        a scope (``missing_scope``, with the scopes needed and granted) — because without it a timeout
        after a post can't be resolved by a lookup and may show a message twice.
        """
        try:
            self._call(
                "conversations.history",
                lambda: self._client.conversations_history(channel=self._channel, limit=1),
            )
        except _HistoryRefused as refused:
            raise PermanentDeliveryError(
                f"channel {self._channel}: {refused.explain()}; without it a post that timed out may be "
                "shown twice",
                destination=DESTINATION,
            ) from None
        return f"channel {self._channel}: history readable"

    def send(self, transition: Transition) -> None:
        """Show ``transition``: edit (or post) the task's message, then reply in its thread if due."""
        key = transition.task_key
        ref = self._refs.get(key)
        delivered = self._refs.reply(key, transition.fingerprint)
        if ref is None and delivered is not None:
            return  # announced in a digest and there is no parent message to bring up to date
        ref = self._show_parent(transition, ref)
        superseded = ref.sequence > transition.sequence and transition.kind not in _ENDS
        if delivered is not None or superseded:
            return
        if transition.kind is TransitionKind.FINISHED:
            reply = render_final_reply(task=transition.task, cluster_name=transition.cluster_name)
        elif transition.kind is TransitionKind.LOST:
            reply = render_lost_notice(
                task=transition.task, cluster_name=transition.cluster_name, last_seen=transition.last_seen
            )
        elif transition.kind is TransitionKind.STALLED:
            reply = render_stalled_warning(
                task=transition.task,
                cluster_name=transition.cluster_name,
                first_seen=transition.first_seen,
                now=transition.observed_at,
            )
        else:
            return
        self._reply(transition, ref, reply)

    def read_channel(self, *, oldest: datetime, max_pages: int = _MAX_HISTORY_PAGES) -> ChannelRecord:
        """Every task message of the channel since ``oldest``, from its metadata (the backup of record).

        Follows ``cursor`` pages, newest first, at most ``max_pages`` of 200. Raises
        :class:`PermanentDeliveryError` when the bot may not read the history, ``RetryableDeliveryError``
        on 429/5xx.
        """
        tasks: dict[str, PostedTask] = {}
        noticed, newest_task = False, True
        for message in self._pages(
            "conversations.history",
            lambda cursor: self._client.conversations_history(
                channel=self._channel,
                limit=self._history_limit,
                include_all_metadata=True,
                oldest=f"{oldest.timestamp():.6f}",
                cursor=cursor,
            ),
            max_pages=max_pages,
        ):
            event = (message.get("metadata") or {}).get("event_type")
            payload = _payload(message)
            if event == REBUILT_EVENT and newest_task:
                noticed = True
            elif event == PARENT_EVENT and isinstance(payload.get("task_key"), str):
                newest_task = False
                tasks.setdefault(payload["task_key"], _posted_task(str(message["ts"]), payload))
        return ChannelRecord(tasks=list(tasks.values()), noticed=noticed)

    def post(self, message: SlackMessage, *, event_type: str, key: str) -> str:
        """Post a standalone ``message`` (an API problem) in the channel; returns its ts."""
        metadata = _metadata(event_type, task_key=key, fingerprint=key, sequence=0)
        # at least once without doubles: an attempt that got no answer (timeout, a worker killed mid-call)
        # leaves its mark, and the next one looks for its message (metadata ``task_key`` = ``key``) first
        ts, _ = self._post_once(
            key,
            "notice",
            message=message,
            metadata=metadata,
            find=lambda oldest: self._find_message(key, oldest=oldest),
        )
        self._refs.forget(key, "notice")  # delivered: a later notice with the same key (a relapse) is new
        return ts

    def post_once(self, message: SlackMessage, *, event_type: str, key: str) -> str:
        """Post ``message`` (a mute summary…) once under ``key``, a name fixed before the first attempt.

        A retry after a failure or a crash that may have posted it looks for it by its metadata first, as
        a task's first message does, and returns the ts of the one found instead of posting again.
        """
        posted = self._refs.reply(key, _POSTED)
        if posted is not None:
            return posted
        metadata = _metadata(event_type, task_key=key, fingerprint=key, sequence=0)
        ts, _ = self._post_once(
            key,
            _PARENT_ATTEMPT,
            message=message,
            metadata=metadata,
            find=lambda since: self._find_message(key, oldest=since),
        )
        self._refs.put_reply(key, _POSTED, ts)
        return ts

    def send_digest(self, *, transitions: Sequence[Transition], now: datetime, digest_id: str) -> str:
        """Post the digest ``digest_id`` (fixed when it was claimed) of ``transitions`` once, mark each
        delivered; returns its ts.

        Tasks that already have a parent message still need ``send`` afterwards to edit it in place; their
        thread reply is skipped because the digest delivered it.
        """
        message = render_digest(transitions=transitions, now=now)
        ts = self.post_once(message, event_type=DIGEST_EVENT, key=f"digest:{digest_id}")
        for transition in transitions:
            self._refs.put_reply(transition.task_key, transition.fingerprint, ts)
            self._refs.put_reply(transition.task_key, _DIGESTED, ts)
        logger.info("posted a digest of %d transitions in %s (ts %s)", len(transitions), self._channel, ts)
        return ts

    def has_message(self, task_key: str) -> bool:
        """True when the task has a message of its own in the channel."""
        return self._refs.get(task_key) is not None

    def shows_progress(self, task_key: str) -> bool:
        """False for a task only a digest announced: it has no message of its own to edit with progress."""
        return self.has_message(task_key) or self._refs.reply(task_key, _DIGESTED) is None

    def _show_parent(self, transition: Transition, ref: MessageRef | None) -> MessageRef:
        key = transition.task_key
        message = render_task_message(
            task=transition.task,
            cluster_name=transition.cluster_name,
            first_seen=transition.first_seen,
            now=transition.observed_at,
            lost=transition.kind is TransitionKind.LOST,
        )
        message = replace(message, blocks=(*message.blocks, task_actions_block(key)))
        metadata = _metadata(
            PARENT_EVENT, task_key=key, fingerprint=transition.fingerprint, sequence=transition.sequence
        )
        metadata["event_payload"] |= _task_facts(transition)
        if ref is None:
            ts, adopted = self._post_once(
                key,
                _PARENT_ATTEMPT,
                message=message,
                metadata=metadata,
                find=lambda since: self._find_message(key, oldest=since),
            )
            if adopted is None:
                ref = MessageRef(channel=self._channel, ts=ts, sequence=transition.sequence)
                self._refs.put(key, ref)
                logger.info("posted the message of task %s in %s (ts %s)", key, ref.channel, ts)
                return ref
            # Posted by an earlier attempt (a crash, a timeout): adopt it, then bring it up to date below.
            logger.info("adopted the message of task %s posted by an earlier attempt (ts %s)", key, ts)
            ref = MessageRef(channel=self._channel, ts=ts, sequence=adopted)
            self._refs.put(key, ref)
        # An end is never superseded: after a rollback it may come again with a lower sequence than the
        # message shows (renumbered), and the end must still be shown.
        if transition.sequence < ref.sequence and transition.kind not in _ENDS:
            logger.info(
                "task %s: message shows sequence %d, not going back to %d",
                key,
                ref.sequence,
                transition.sequence,
            )
            return ref
        shown = ref
        try:
            self._call(
                "chat.update",
                lambda: self._client.chat_update(
                    channel=shown.channel,
                    ts=shown.ts,
                    text=message.text,
                    blocks=message.block_list(),
                    metadata=metadata,
                ),
            )
        except _MessageGone:
            # Someone deleted the task's message: show the task again rather than fail it for good.
            ts = self._post(message, channel=self._channel, metadata=metadata)
            logger.info("task %s: its message was deleted, posted it again (ts %s)", key, ts)
            shown = MessageRef(channel=self._channel, ts=ts, sequence=transition.sequence)
        updated = replace(shown, sequence=transition.sequence)
        self._refs.put(key, updated)
        return updated

    def _reply(self, transition: Transition, ref: MessageRef, message: SlackMessage) -> None:
        key, fingerprint = transition.task_key, transition.fingerprint
        metadata = _metadata(REPLY_EVENT, task_key=key, fingerprint=fingerprint, sequence=transition.sequence)
        ts, _ = self._post_once(
            key,
            fingerprint,
            message=message,
            metadata=metadata,
            thread_ts=ref.ts,
            channel=ref.channel,
            find=lambda since: self._find_reply(ref, fingerprint, oldest=since),
        )
        logger.info("replied in the thread of task %s (%s)", key, transition.kind.value)
        self._refs.put_reply(key, fingerprint, ts)

    def _post_once(
        self,
        record: str,
        item: str,
        *,
        message: SlackMessage,
        metadata: dict[str, Any],
        find: Callable[[datetime], tuple[str, int] | None],
        thread_ts: str | None = None,
        channel: str | None = None,
    ) -> tuple[str, int | None]:
        """Post ``message`` unless an earlier attempt with an unknown outcome already did.

        Returns the message's ts and, when an earlier attempt's message was found instead, the ``sequence``
        its metadata carries (None when this call posted it).

        The attempt mark is set before the call and dropped when Slack answers that nothing was posted, so
        only an attempt that got no answer (timeout, reset, a worker killed mid-call) costs a lookup.
        """
        earlier = self._refs.begin(record, item, at=datetime.now(UTC))
        if earlier is not None:
            found = self._look_up(find, since=earlier - _HISTORY_MARGIN)
            if found is not None:
                return found
        try:
            target = channel or self._channel
            return self._post(message, channel=target, metadata=metadata, thread_ts=thread_ts), None
        except _Unanswered:
            raise  # it may have been posted: the mark stays, the next attempt looks first
        except DeliveryError:
            self._refs.forget(record, item)  # Slack answered: nothing was posted
            raise

    def _look_up(
        self, find: Callable[[datetime], tuple[str, int] | None], *, since: datetime
    ) -> tuple[str, int] | None:
        """``find(since)``, or None (post anyway) when the bot may not read the channel's history."""
        try:
            return find(since)
        except _HistoryRefused as refused:
            logger.warning(
                "channel %s: can't look for an earlier attempt's message (%s); posting, it may show twice",
                self._channel,
                refused.code,
            )
            if self._on_history_refused is not None:
                self._on_history_refused(self._channel, refused.code)
            return None

    def _find_message(self, task_key: str, *, oldest: datetime) -> tuple[str, int] | None:
        """(ts, sequence) of the newest channel message since ``oldest`` whose metadata names ``task_key``."""
        for message in self._pages(
            "conversations.history",
            lambda cursor: self._client.conversations_history(
                channel=self._channel,
                limit=self._history_limit,
                include_all_metadata=True,
                oldest=f"{oldest.timestamp():.6f}",
                cursor=cursor,
            ),
        ):
            payload = _payload(message)
            if payload.get("task_key") == task_key:
                return str(message["ts"]), int(payload.get("sequence") or 0)
        return None

    def _find_reply(self, ref: MessageRef, fingerprint: str, *, oldest: datetime) -> tuple[str, int] | None:
        """The ts of a reply since ``oldest`` in the task's thread whose metadata carries ``fingerprint``."""
        for message in self._pages(
            "conversations.replies",
            lambda cursor: self._client.conversations_replies(
                channel=ref.channel,
                ts=ref.ts,
                limit=self._history_limit,
                include_all_metadata=True,
                oldest=f"{oldest.timestamp():.6f}",
                cursor=cursor,
            ),
        ):
            payload = _payload(message)
            if message.get("ts") != ref.ts and payload.get("fingerprint") == fingerprint:
                return str(message["ts"]), int(payload.get("sequence") or 0)
        return None

    def _pages(
        self,
        method: str,
        read: Callable[[str | None], SlackResponse],
        *,
        max_pages: int = _MAX_HISTORY_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Every message of a paged read, following ``response_metadata.next_cursor`` (bounded)."""
        cursor: str | None = None
        for _ in range(max_pages):
            page = self._call(method, partial(read, cursor))
            yield from page.get("messages") or []
            metadata = page.get("response_metadata")
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not cursor:
                return
        logger.warning("%s: stopped after %d pages; older messages were not read", method, max_pages)

    def _post(
        self, message: SlackMessage, *, channel: str, metadata: dict[str, Any], thread_ts: str | None = None
    ) -> str:
        answer = self._call(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.block_list(),
                metadata=metadata,
                thread_ts=thread_ts,
            ),
        )
        return str(answer["ts"])

    def _call(self, method: str, call: Callable[[], SlackResponse]) -> SlackResponse:
        """Run one Web API call, translating the SDK's exceptions into :mod:`integrations.base` errors."""
        if self._before_call is not None:
            self._before_call()
        try:
            return call()
        except SlackApiError as error:
            raise _api_error(method, error) from None
        except URLError as error:
            if _never_sent(error.reason):
                raise RetryableDeliveryError(
                    f"Slack {method}: could not connect to Slack", destination=DESTINATION
                ) from None
            raise _Unanswered(
                f"Slack {method}: {type(error.reason).__name__} talking to Slack", destination=DESTINATION
            ) from None
        except (TimeoutError, ConnectionError) as error:
            if _never_sent(error):
                raise RetryableDeliveryError(
                    f"Slack {method}: could not connect to Slack", destination=DESTINATION
                ) from None
            raise _Unanswered(
                f"Slack {method}: {type(error).__name__} talking to Slack", destination=DESTINATION
            ) from None
        except SlackClientError as error:
            raise PermanentDeliveryError(
                f"Slack {method}: client error {type(error).__name__}", destination=DESTINATION
            ) from None


def build_slack_notifier(
    target: SlackTarget, *, session: requests.Session, context: NotifierContext
) -> SlackNotifier:
    """The registry's factory: a notifier for ``target`` in the channel ``context.scope``.

    Slack speaks through its own SDK client, not the shared ``session``.
    """
    access, stores_for = context.slack, context.stores_for
    problems = target.access_problems(slack=access)
    if problems:
        raise problems[0]
    if access is None or access.token is None or stores_for is None or not context.scope:
        raise TargetSetupError(f"target {target.name!r}: the worker gave no channel or message store")
    return SlackNotifier(
        token=access.token.get_secret_value(),
        channel=context.scope,
        refs=stores_for(target.name).refs,
        base_url=access.base_url,
        timeout=access.timeout,
        on_history_refused=access.on_history_refused,
        before_call=context.before_call,
    )


class _MessageGone(PermanentDeliveryError):
    """``chat.update`` of a message that no longer exists (deleted in Slack)."""


class _Unanswered(RetryableDeliveryError):
    """The request went out but no answer came back (timeout, reset, a gateway's page): it may have been
    carried out."""


class _HistoryRefused(PermanentDeliveryError):
    """Slack refused a history read: the bot is not a member, or the token lacks a history scope."""

    def __init__(self, message: str, *, code: str, needed: str, provided: str, status: int) -> None:
        super().__init__(message, destination=DESTINATION, status=status)
        self.code = code
        self.needed = needed
        self.provided = provided

    def explain(self) -> str:
        """What an operator has to change, in words."""
        if self.code == "not_in_channel":
            return "the bot is not a member (not_in_channel): /invite it to the channel"
        if self.code == "missing_scope":
            needed = self.needed or "a history scope"
            return f"the token lacks {needed} (missing_scope; granted: {self.provided})"
        return f"history can't be read ({self.code})"


def _never_sent(reason: object) -> bool:
    """True for failures before the request could leave: refused connection, unknown host."""
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def _api_error(method: str, error: SlackApiError) -> DeliveryError:
    status = error.response.status_code
    data = error.response.data
    code = str(data.get("error", "unknown_error")) if isinstance(data, dict) else "unreadable_answer"
    text = f"Slack {method} failed: {code} (HTTP {status})"
    if code == "message_not_found":
        return _MessageGone(text, destination=DESTINATION, status=status)
    if method in ("conversations.history", "conversations.replies") and code in _HISTORY_REFUSALS:
        needed = str(data.get("needed") or "") if isinstance(data, dict) else ""
        provided = str(data.get("provided") or "") if isinstance(data, dict) else ""
        return _HistoryRefused(text, code=code, needed=needed, provided=provided, status=status)
    if status >= 500 and not (isinstance(data, dict) and "error" in data):
        return _Unanswered(text, destination=DESTINATION, status=status)  # a gateway's page, not Slack's
    if status == 429 or code == "ratelimited":
        retry_after = _retry_after(error.response.headers)
        return RetryableDeliveryError(text, destination=DESTINATION, status=status, retry_after=retry_after)
    if status >= 500 or code in _TRANSIENT_ERRORS:
        return RetryableDeliveryError(text, destination=DESTINATION, status=status)
    return PermanentDeliveryError(text, destination=DESTINATION, status=status)


def _retry_after(headers: dict[str, Any]) -> float | None:
    value = next((value for name, value in headers.items() if name.lower() == "retry-after"), None)
    return parse_retry_after(None if value is None else str(value))


def _metadata(event_type: str, *, task_key: str, fingerprint: str, sequence: int) -> dict[str, Any]:
    payload = {"task_key": task_key, "fingerprint": fingerprint, "sequence": sequence}
    return {"event_type": event_type, "event_payload": payload}


def _posted_task(ts: str, payload: dict[str, Any]) -> PostedTask:
    first_seen = payload.get("first_seen")
    return PostedTask(
        task_key=str(payload["task_key"]),
        ts=ts,
        sequence=int(payload.get("sequence") or 0),
        status=str(payload.get("status") or ""),
        step=int(payload.get("step", -1)),
        total=int(payload.get("total", -1)),
        first_seen=datetime.fromtimestamp(float(first_seen), UTC)
        if isinstance(first_seen, int | float)
        else None,
        final=payload.get("final") is True,
    )


def _task_facts(transition: Transition) -> dict[str, Any]:
    """What a parent message's metadata says of its task: enough to follow it again after a state loss."""
    task = transition.task
    return {
        "status": task.status.value,
        "step": -1 if task.current_step is None else task.current_step,
        "total": -1 if task.total_steps is None else task.total_steps,
        "first_seen": round(transition.first_seen.timestamp(), 3),
        "final": transition.kind in _ENDS,
    }


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload if isinstance(payload, dict) else {}
