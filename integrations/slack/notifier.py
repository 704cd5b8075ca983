"""Delivers transitions to Slack: one parent message per task, edited in place, and one reply per ending.

The first transition of a task posts its parent message; later ones ``chat.update`` it (never with an
older ``sequence`` than already shown). FINISHED also posts one thread reply with the details, STALLED one
thread warning. Where each task's message lives is kept behind
:class:`~integrations.base.MessageRefStore` (the worker hands in its Redis store).

Exactly once, even when a worker dies between posting and recording: every message carries Slack message
metadata naming its ``task_key`` and ``fingerprint``. Before posting, the store notes the attempt; if an
earlier attempt was noted but never recorded, the notifier looks for its message in
``conversations.history`` (parent) or ``conversations.replies`` (reply) and adopts it instead of posting
again. Only that crash path pays for the lookup.

Errors (see :mod:`integrations.base`): HTTP 429 → ``RetryableDeliveryError`` with the Retry-After seconds;
5xx, Slack's transient error codes, timeouts and dropped connections → ``RetryableDeliveryError``; any
other Slack error (``channel_not_found``, ``invalid_auth`` …) → ``PermanentDeliveryError``. Neither the
token nor the SDK's exception text is ever put in a message or a log line.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from integrations.base import (
    DeliveryError,
    MessageRef,
    MessageRefStore,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Transition,
    TransitionKind,
)
from integrations.http import parse_retry_after
from integrations.slack.commands import task_actions_block
from integrations.slack.render import (
    SlackMessage,
    render_digest,
    render_final_reply,
    render_lost_notice,
    render_stalled_warning,
    render_task_message,
)
from integrations.target import NotifierContext, SlackTarget, TargetSetupError

__all__ = ["DEFAULT_BASE_URL", "SlackNotifier", "build_slack_notifier"]

DEFAULT_BASE_URL = "https://slack.com/api/"
DESTINATION = "slack"
PARENT_EVENT = "ehpc_task"
REPLY_EVENT = "ehpc_task_reply"
DIGEST_EVENT = "ehpc_digest"
_PARENT_ATTEMPT = "parent"
# Slack answers these with HTTP 200 and ok=false, yet trying later can succeed.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# How far before a task's first sighting its parent message may carry a Slack ts (clock skew margin).
_HISTORY_MARGIN = timedelta(minutes=10)

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
    ) -> None:
        # retry_handlers=[]: the caller owns the retry policy (Celery countdowns), the SDK must not sleep.
        self._client = WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
        self._channel = channel
        self._refs = refs
        self._history_limit = history_limit

    def check(self) -> str:
        """Call ``auth.test`` (https://api.slack.com/methods/auth.test); returns ``team / bot user``."""
        answer = self._call("auth.test", self._client.auth_test)
        return f"{answer.get('team')} / {answer.get('user')}"

    def send(self, transition: Transition) -> None:
        """Show ``transition``: edit (or post) the task's message, then reply in its thread if due."""
        key = transition.task_key
        ref = self._refs.get(key)
        delivered = self._refs.reply(key, transition.fingerprint)
        if ref is None and delivered is not None:
            return  # announced in a digest and there is no parent message to bring up to date
        ref = self._show_parent(transition, ref)
        if delivered is not None or ref.sequence > transition.sequence:
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

    def post(self, message: SlackMessage, *, event_type: str, key: str) -> str:
        """Post a standalone ``message`` (an API problem, a mute summary) in the channel; returns its ts."""
        metadata = _metadata(event_type, task_key=key, fingerprint=key, sequence=0)
        return self._post(message, channel=self._channel, metadata=metadata)

    def send_digest(self, *, transitions: Sequence[Transition], now: datetime) -> str:
        """Post one digest of ``transitions`` (channel over budget), mark each delivered; returns its ts.

        Tasks that already have a parent message still need ``send`` afterwards to edit it in place; their
        thread reply is skipped because the digest delivered it.
        """
        fingerprints = sorted(transition.fingerprint for transition in transitions)
        digest_id = hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:32]
        record = f"digest:{digest_id}"
        found = self._find_message(record) if self._refs.begin(record, _PARENT_ATTEMPT) else None
        if found is not None:
            ts = found[0]
        else:
            message = render_digest(transitions=transitions, now=now)
            metadata = _metadata(
                DIGEST_EVENT, task_key=record, fingerprint=digest_id, sequence=len(transitions)
            )
            ts = self._post(message, channel=self._channel, metadata=metadata)
        for transition in transitions:
            self._refs.put_reply(transition.task_key, transition.fingerprint, ts)
        logger.info("posted a digest of %d transitions in %s (ts %s)", len(transitions), self._channel, ts)
        return ts

    def _show_parent(self, transition: Transition, ref: MessageRef | None) -> MessageRef:
        key = transition.task_key
        if ref is None and self._refs.begin(key, _PARENT_ATTEMPT):
            ref = self._adopt_parent(transition)
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
        if ref is None:
            ts = self._post(message, channel=self._channel, metadata=metadata)
            ref = MessageRef(channel=self._channel, ts=ts, sequence=transition.sequence)
            self._refs.put(key, ref)
            logger.info("posted the message of task %s in %s (ts %s)", key, ref.channel, ts)
            return ref
        if transition.sequence < ref.sequence:
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
        ts = self._find_reply(ref, fingerprint) if self._refs.begin(key, fingerprint) else None
        if ts is None:
            metadata = _metadata(
                REPLY_EVENT, task_key=key, fingerprint=fingerprint, sequence=transition.sequence
            )
            ts = self._post(message, channel=ref.channel, metadata=metadata, thread_ts=ref.ts)
            logger.info("replied in the thread of task %s (%s)", key, transition.kind.value)
        self._refs.put_reply(key, fingerprint, ts)

    def _adopt_parent(self, transition: Transition) -> MessageRef | None:
        """After a crash between posting and recording: find the task's message by its metadata."""
        oldest = transition.first_seen - _HISTORY_MARGIN
        found = self._find_message(transition.task_key, oldest=oldest)
        if found is None:
            return None
        ts, sequence = found
        logger.info("adopted the message of task %s posted before a crash (ts %s)", transition.task_key, ts)
        ref = MessageRef(channel=self._channel, ts=ts, sequence=sequence)
        self._refs.put(transition.task_key, ref)
        return ref

    def _find_message(self, task_key: str, *, oldest: datetime | None = None) -> tuple[str, int] | None:
        """(ts, sequence) of the newest channel message whose metadata names ``task_key``, if any."""
        history = self._call(
            "conversations.history",
            lambda: self._client.conversations_history(
                channel=self._channel,
                limit=self._history_limit,
                include_all_metadata=True,
                oldest=f"{oldest.timestamp():.6f}" if oldest else None,
            ),
        )
        for message in history.get("messages") or []:
            payload = _payload(message)
            if payload.get("task_key") == task_key:
                return str(message["ts"]), int(payload.get("sequence") or 0)
        return None

    def _find_reply(self, ref: MessageRef, fingerprint: str) -> str | None:
        """The ts of a reply in the task's thread whose metadata carries ``fingerprint``."""
        thread = self._call(
            "conversations.replies",
            lambda: self._client.conversations_replies(
                channel=ref.channel, ts=ref.ts, include_all_metadata=True
            ),
        )
        for message in thread.get("messages") or []:
            if message.get("ts") != ref.ts and _payload(message).get("fingerprint") == fingerprint:
                return str(message["ts"])
        return None

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
        try:
            return call()
        except SlackApiError as error:
            raise _api_error(method, error) from None
        except (URLError, TimeoutError, ConnectionError) as error:
            raise RetryableDeliveryError(
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
    )


class _MessageGone(PermanentDeliveryError):
    """``chat.update`` of a message that no longer exists (deleted in Slack)."""


def _api_error(method: str, error: SlackApiError) -> DeliveryError:
    status = error.response.status_code
    data = error.response.data
    code = str(data.get("error", "unknown_error")) if isinstance(data, dict) else "unreadable_answer"
    text = f"Slack {method} failed: {code} (HTTP {status})"
    if code == "message_not_found":
        return _MessageGone(text, destination=DESTINATION, status=status)
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


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload if isinstance(payload, dict) else {}
