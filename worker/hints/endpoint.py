"""``POST /eventbridge``: EventBridge's HTTP target, as a small WSGI app served beside ``/slack/events``.

Request flow, and the answer at each step (EventBridge retries a 5xx, not a 4xx):

1. The token header ``x-eventbridge-signature-token`` (the HTTP target's token) compared in constant time
   with ``EHPC_EVENTBRIDGE_TOKEN``; missing, wrong, or no token configured → **401**, nothing read.
2. The body parsed (:mod:`worker.hints.event`) → **400** with the reason when it is not an event.
3. Not from E-HPC, or about no watched cluster → **200** ``ignored`` (counted, never an error: the rule's
   pattern decides what is sent, and a cluster the bridge does not watch is not a fault of the sender).
4. :class:`~worker.hints.schedule.PollHints` → **202** with the poll queued now or deferred, **200** for
   a duplicate or an already-deferred one, **503** when Redis or the broker failed.

Every step is a Redis round trip or two and one broker publish: the answer comes well within a second.
Nothing from the request is logged or echoed but the watched cluster id it mapped to.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import redis
from kombu.exceptions import OperationalError

from worker.hints.event import MalformedEventError, parse_event
from worker.hints.schedule import HintResult, PollHints
from worker.ops import metrics

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["EVENTBRIDGE_PATH", "MAX_BODY", "TOKEN_HEADER", "EventBridgeEndpoint", "endpoint_from_runtime"]

log = logging.getLogger(__name__)

EVENTBRIDGE_PATH = "/eventbridge"
TOKEN_HEADER = "x-eventbridge-signature-token"  # noqa: S105 - a header name, not a secret
MAX_BODY = 256 * 1024  # EventBridge's largest event

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_STATUS = {
    200: "200 OK",
    202: "202 Accepted",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    503: "503 Service Unavailable",
}


class EventBridgeEndpoint:
    """The WSGI app of ``POST /eventbridge``; ``watched(cluster_id)`` says whether the bridge polls it."""

    def __init__(self, *, token: str | None, hints: PollHints, watched: Callable[[str], bool]) -> None:
        self._token = token.encode() if token else None
        self._hints = hints
        self._watched = watched

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, answer = self._handle(environ)
        result = answer.get("result")
        metrics.record_eventbridge_event(result=str(result))
        body = json.dumps(answer).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(_STATUS[status], headers)
        return [body]

    def _handle(self, environ: dict[str, Any]) -> tuple[int, dict[str, object]]:
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"result": HintResult.MALFORMED, "error": "POST an EventBridge event here"}
        if not self._authorized(environ):
            log.warning(
                "refused an EventBridge delivery without the right token (from %s)",
                str(environ.get("REMOTE_ADDR", "?"))[:64],
            )
            return 401, {"result": HintResult.REFUSED, "error": "invalid token"}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return 413, {"result": HintResult.MALFORMED, "error": f"the body must be 0 to {MAX_BODY} bytes"}
        try:
            event = parse_event(environ["wsgi.input"].read(length))
        except MalformedEventError as error:
            return 400, {"result": HintResult.MALFORMED, "error": str(error)}
        if not event.from_ehpc:
            return 200, {"result": HintResult.NOT_EHPC}
        cluster_id = next((candidate for candidate in event.cluster_ids if self._watched(candidate)), None)
        if cluster_id is None:
            return 200, {"result": HintResult.UNKNOWN_CLUSTER}
        try:
            hinted = self._hints.offer(source=event.source, event_id=event.event_id, cluster_id=cluster_id)
        except (redis.RedisError, OperationalError) as error:
            log.warning("could not queue the hinted poll of %s: %s", cluster_id, type(error).__name__)
            return 503, {"result": HintResult.UNAVAILABLE, "error": "try again"}
        status = 202 if hinted.result in (HintResult.POLL_QUEUED, HintResult.POLL_DEFERRED) else 200
        if status == 202:
            log.info("event %s: poll of %s queued (in %.1f s)", hinted.result, cluster_id, hinted.countdown)
        return status, {"result": hinted.result, "cluster": cluster_id, "countdown": hinted.countdown}

    def _authorized(self, environ: dict[str, Any]) -> bool:
        given = str(environ.get("HTTP_X_EVENTBRIDGE_SIGNATURE_TOKEN", "")).encode("latin-1", "replace")
        return self._token is not None and hmac.compare_digest(given, self._token)


def endpoint_from_runtime(rt: Runtime) -> EventBridgeEndpoint:
    """The production endpoint: the runtime's Redis and clusters; polls queued on the Celery broker."""
    from worker.celery_app import POLL_QUEUE, app

    def enqueue(cluster_id: str, countdown: float) -> None:
        # retry=False: a broker that does not answer is a 503 now (EventBridge retries), not a stalled answer
        app.send_task(
            "ehpc.poll_cluster",
            args=(cluster_id,),
            queue=POLL_QUEUE,
            countdown=countdown or None,
            expires=countdown + rt.poll_interval(cluster_id),
            retry=False,
        )

    token = rt.settings.eventbridge_token
    hints = PollHints(
        client=rt.redis,
        keys=rt.keys,
        interval=rt.settings.eventbridge_hint_interval,
        enqueue=enqueue,
        now_ms=lambda: time.time_ns() // 1_000_000,
    )
    return EventBridgeEndpoint(
        token=None if token is None else token.get_secret_value(),
        hints=hints,
        watched=lambda cluster_id: cluster_id in rt.clusters,
    )
