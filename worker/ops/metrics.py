"""Prometheus metrics of ehpc-bridge: one ``ehpc_bridge_*`` family per thing an operator watches.

The pipeline, the tasks and the Slack app call the small ``record_*`` functions below; nothing else touches
the metric objects. Everything lives in prometheus-client's default registry, which
:func:`worker.ops.health.serve_health` exposes on ``/metrics`` (one process per container, threads inside, so
no multiprocess directory is needed).

Families (counters get ``_total`` appended by the client):

* ``ehpc_bridge_polls_total{cluster,result}`` — ListTasks polls; result ``ok``, ``error`` or ``skipped``
  (another poll of the cluster still held its lease).
* ``ehpc_bridge_poll_duration_seconds{cluster}`` — histogram of successful polls (all pages).
* ``ehpc_bridge_last_successful_poll_timestamp_seconds{cluster}`` — poll lag is ``time() - this`` in PromQL.
* ``ehpc_bridge_api_errors_total{cluster,code}`` — E-HPC API errors by vendor code (``Throttling.User``…).
* ``ehpc_bridge_transitions_total{cluster,kind}`` — transitions detected (``started``, ``progressed``…).
* ``ehpc_bridge_deliveries_total{target,result}`` — deliveries; result ``ok``, ``retry`` or ``failed``.
* ``ehpc_bridge_dedup_suppressions_total{target}`` — deliveries skipped because the destination already had
  the transition (redelivery after a crash, a second beat, a retried task).
* ``ehpc_bridge_rate_limited_total{service}`` — 429 / throttling answers from Slack, E-HPC or a vendor.
* ``ehpc_bridge_dead_letters_total{target}`` — transitions given up on (``ehpc-bridge dead-letters``).
* ``ehpc_bridge_capped_total{what}`` — entries dropped because a bounded store was full (``dead_letters``,
  ``mute_list``): each says a limit was reached. (The outbox's trim, in Lua, is not counted.)
* ``ehpc_bridge_slack_parked_total{target}`` — Slack messages parked for their channel's budget;
  ``ehpc_bridge_slack_digests_total{target}`` — digest messages posted for a channel's backlog.
* ``ehpc_bridge_slack_history_unreadable_total{channel,error}`` — lookups after an unanswered post that
  Slack refused (``not_in_channel``, ``missing_scope``): the message was posted anyway and may show twice;
  ``ehpc-bridge check`` says what to grant.
* ``ehpc_bridge_slack_commands_total{command,result}`` — ``/ehpc`` subcommands served by the Slack app.
* ``ehpc_bridge_eventbridge_events_total{result}`` — deliveries to ``POST /eventbridge``: ``poll_queued``,
  ``poll_deferred``, ``paced``, ``duplicate``, ``unknown_cluster`` (no watched cluster named; the id is not a
  label, a sender could make those up), ``not_ehpc``, ``refused`` (401), ``malformed``, ``unavailable``.
* ``ehpc_bridge_queue_depth{queue}`` — messages waiting in a Celery queue, read from Redis at scrape time
  by :class:`QueueDepthCollector` (registered by the health server, not here, so importing is side-effect
  free apart from the metric definitions).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Literal

import redis
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "API_CALLS",
    "API_ERRORS",
    "CAPPED",
    "DEAD_LETTERS",
    "DEDUP_SUPPRESSIONS",
    "DELIVERIES",
    "EVENTBRIDGE_EVENTS",
    "LAST_SUCCESSFUL_POLL",
    "POLLS",
    "POLL_BOUNDS",
    "POLL_DURATION",
    "RATE_LIMITED",
    "SLACK_COMMANDS",
    "SLACK_DIGESTS",
    "SLACK_HISTORY_UNREADABLE",
    "SLACK_PARKED",
    "TRANSITIONS",
    "DeliveryResult",
    "PollResult",
    "QueueDepthCollector",
    "record_api_calls",
    "record_api_error",
    "record_capped",
    "record_dead_letter",
    "record_dedup_suppression",
    "record_delivery",
    "record_digest",
    "record_eventbridge_event",
    "record_parked",
    "record_poll",
    "record_poll_bound",
    "record_rate_limited",
    "record_slack_command",
    "record_slack_history_unreadable",
    "record_transition",
]

PollResult = Literal["ok", "error", "skipped", "partial", "fenced", "gone"]
PollBound = Literal["pages", "time"]
DeliveryResult = Literal["ok", "retry", "failed"]

POLLS = Counter("ehpc_bridge_polls", "ListTasks polls of a cluster, by result.", ["cluster", "result"])
POLL_DURATION = Histogram(
    "ehpc_bridge_poll_duration_seconds",
    "Wall time of a successful poll of a cluster (every page).",
    ["cluster"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
LAST_SUCCESSFUL_POLL = Gauge(
    "ehpc_bridge_last_successful_poll_timestamp_seconds",
    "Unix time of the last successful poll of a cluster; poll lag = time() - this.",
    ["cluster"],
)
API_ERRORS = Counter("ehpc_bridge_api_errors", "E-HPC API errors, by vendor error code.", ["cluster", "code"])
API_CALLS = Counter("ehpc_bridge_api_calls", "ListTasks requests sent, failed ones included.", ["cluster"])
POLL_BOUNDS = Counter(
    "ehpc_bridge_poll_bounds",
    "Polls that stopped at a bound before reaching the watermark (pages: 999, the API's limit; time).",
    ["cluster", "bound"],
)
TRANSITIONS = Counter("ehpc_bridge_transitions", "Task transitions detected, by kind.", ["cluster", "kind"])
DELIVERIES = Counter(
    "ehpc_bridge_deliveries", "Deliveries to a destination, by result.", ["target", "result"]
)
DEDUP_SUPPRESSIONS = Counter(
    "ehpc_bridge_dedup_suppressions",
    "Deliveries skipped because the destination already had that transition.",
    ["target"],
)
RATE_LIMITED = Counter(
    "ehpc_bridge_rate_limited", "HTTP 429 / throttling answers received, by service.", ["service"]
)
DEAD_LETTERS = Counter("ehpc_bridge_dead_letters", "Transitions given up on, by target.", ["target"])
CAPPED = Counter("ehpc_bridge_capped", "Entries dropped because a bounded store was full.", ["what"])
SLACK_PARKED = Counter(
    "ehpc_bridge_slack_parked", "Slack messages parked for their channel's budget.", ["target"]
)
SLACK_DIGESTS = Counter("ehpc_bridge_slack_digests", "Digest messages posted for a backlog.", ["target"])
SLACK_HISTORY_UNREADABLE = Counter(
    "ehpc_bridge_slack_history_unreadable",
    "Lookups of a possibly posted Slack message that history refused; posted anyway (may show twice).",
    ["channel", "error"],
)
SLACK_COMMANDS = Counter(
    "ehpc_bridge_slack_commands", "/ehpc subcommands served, by result.", ["command", "result"]
)
EVENTBRIDGE_EVENTS = Counter(
    "ehpc_bridge_eventbridge_events", "EventBridge deliveries to POST /eventbridge, by result.", ["result"]
)

# kombu's Redis transport keeps one list per priority step: the queue's own name for priority 0, then
# "<queue>\x06\x16<step>" for the others (kombu.transport.redis: PRIORITY_STEPS and Channel.sep).
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def record_poll(
    *, cluster_id: str, result: PollResult, duration: float | None = None, now: float | None = None
) -> None:
    """Count one poll; a successful one also moves the cluster's last-success timestamp to ``now``."""
    POLLS.labels(cluster=cluster_id, result=result).inc()
    if result == "ok":
        LAST_SUCCESSFUL_POLL.labels(cluster=cluster_id).set(time.time() if now is None else now)
        if duration is not None:
            POLL_DURATION.labels(cluster=cluster_id).observe(duration)


def record_api_error(*, cluster_id: str, code: str) -> None:
    """Count one E-HPC API error by its vendor code (``ServiceUnavailable``, ``ClusterNotFound``…)."""
    API_ERRORS.labels(cluster=cluster_id, code=code).inc()


def record_api_calls(*, cluster_id: str, calls: int) -> None:
    """Count the ListTasks requests one poll sent."""
    API_CALLS.labels(cluster=cluster_id).inc(calls)


def record_poll_bound(*, cluster_id: str, bound: PollBound) -> None:
    """Count one poll that stopped at a bound (it resumes from there next time)."""
    POLL_BOUNDS.labels(cluster=cluster_id, bound=bound).inc()


def record_transition(*, cluster_id: str, kind: str) -> None:
    """Count one detected transition (``started``, ``progressed``, ``finished``…)."""
    TRANSITIONS.labels(cluster=cluster_id, kind=kind).inc()


def record_delivery(*, target: str, result: DeliveryResult) -> None:
    """Count one delivery attempt to a destination (``slack``, a Jira target's name…)."""
    DELIVERIES.labels(target=target, result=result).inc()


def record_dedup_suppression(*, target: str) -> None:
    """Count one delivery skipped because the destination already had the transition."""
    DEDUP_SUPPRESSIONS.labels(target=target).inc()


def record_rate_limited(*, service: str) -> None:
    """Count one 429 / throttling answer from ``service`` (``slack``, ``ehpc``, ``pagerduty``…)."""
    RATE_LIMITED.labels(service=service).inc()


def record_dead_letter(*, target: str) -> None:
    """Count one transition given up on for ``target``."""
    DEAD_LETTERS.labels(target=target).inc()


def record_capped(*, what: str) -> None:
    """Count one entry dropped because the bounded store ``what`` was full."""
    CAPPED.labels(what=what).inc()


def record_parked(*, target: str) -> None:
    """Count one Slack message parked for its channel's budget."""
    SLACK_PARKED.labels(target=target).inc()


def record_digest(*, target: str) -> None:
    """Count one digest message posted."""
    SLACK_DIGESTS.labels(target=target).inc()


def record_slack_history_unreadable(channel: str, error: str) -> None:
    """Count one refused history lookup in ``channel`` (``not_in_channel``, ``missing_scope``)."""
    SLACK_HISTORY_UNREADABLE.labels(channel=channel, error=error).inc()


def record_slack_command(*, command: str, result: str) -> None:
    """Count one ``/ehpc`` subcommand served by the Slack app (result ``ok``, ``denied``, ``error``…)."""
    SLACK_COMMANDS.labels(command=command, result=result).inc()


def record_eventbridge_event(*, result: str) -> None:
    """Count one EventBridge delivery by what became of it (``poll_queued``, ``unknown_cluster``…)."""
    EVENTBRIDGE_EVENTS.labels(result=result).inc()


class QueueDepthCollector(Collector):
    """``ehpc_bridge_queue_depth{queue}``: LLEN of each Celery queue's Redis lists, read at scrape time.

    ``key_prefix`` is the broker's ``global_keyprefix`` transport option (empty when unset). A Redis that
    does not answer yields no sample rather than a failed scrape: ``/healthz`` is where that shows.
    """

    def __init__(self, *, client: redis.Redis, queues: Sequence[str], key_prefix: str = "") -> None:
        self._client = client
        self._keys = {
            queue: [f"{key_prefix}{queue}{suffix}" for suffix in _PRIORITY_SUFFIXES] for queue in queues
        }

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one gauge sample per queue, from one pipelined round trip."""
        family = GaugeMetricFamily(
            "ehpc_bridge_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        pipe = self._client.pipeline(transaction=False)
        for keys in self._keys.values():
            for key in keys:
                pipe.llen(key)
        try:
            lengths: list[int] = pipe.execute()
        except redis.RedisError:
            yield family
            return
        step = len(_PRIORITY_SUFFIXES)
        for index, queue in enumerate(self._keys):
            family.add_metric([queue], float(sum(lengths[index * step : (index + 1) * step])))
        yield family
