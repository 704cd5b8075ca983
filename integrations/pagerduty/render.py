"""PagerDuty Events API v2 events as data: a pure function from a transition to the JSON body.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ — trigger on Fail (severity ``error``)
and PartialFail (``warning``), resolve on the next Success of the same task type on the same cluster; the
``dedup_key`` is :func:`integrations.incident.incident_key`, so the resolve needs no stored state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from integrations.base import Transition
from integrations.card import clip, task_card
from integrations.ehpc.task import TaskStatus
from integrations.incident import IncidentAction, incident_action, incident_key

__all__ = ["CLIENT", "render_event"]

CLIENT = "ehpc-bridge"
_MAX_SUMMARY = 1024
_SEVERITY = {TaskStatus.FAIL: "error", TaskStatus.PARTIAL_FAIL: "warning"}


def render_event(
    transition: Transition, *, routing_key: str, thread_url: str | None = None
) -> dict[str, Any] | None:
    """The event for ``transition``, or None when it neither opens nor resolves an incident."""
    action = incident_action(transition)
    if action is None:
        return None
    task = transition.task
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "dedup_key": incident_key(task),
        "event_action": "resolve" if action is IncidentAction.RESOLVE else "trigger",
    }
    if action is IncidentAction.RESOLVE:
        return event
    card = task_card(transition)
    details: dict[str, Any] = {name.lower().replace(" ", "_"): value for name, value in card.fields}
    details.update(
        errors=list(card.errors),
        nodes=list(card.nodes),
        cluster_labels=dict(transition.cluster_labels),
        fingerprint=transition.fingerprint,
    )
    event["payload"] = {
        "summary": clip(f"{card.headline} (task {task.task_id})", _MAX_SUMMARY),
        "source": task.cluster_id or transition.cluster_name,
        "severity": _SEVERITY[task.status],
        "timestamp": _utc(transition.observed_at).isoformat(),
        "component": task.type_name,
        "group": transition.cluster_name,
        "class": "ehpc-task",
        "custom_details": details,
    }
    event["client"] = CLIENT
    if thread_url:
        event["links"] = [{"href": thread_url, "text": "Slack thread"}]
    return event


def _utc(moment: datetime) -> datetime:
    """The wire wants an RFC 3339 time with an offset; naive times are UTC in this service."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
