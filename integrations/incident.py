"""The one incident key shared by PagerDuty (``dedup_key``) and Opsgenie (``alias``), and what it means.

Rule: a failure of task type T on cluster C opens (or joins) the incident ``ehpc-bridge:C:T``; the next
*success* of type T on cluster C resolves it. The key therefore holds no task id, so it can be recomputed
from the success alone, with no state kept anywhere: redelivering a failure re-sends the same key (the
vendor deduplicates), and a second failure of the same type before a success joins the open incident
instead of opening another page. A success with no open incident is a harmless no-op at both vendors.
``:`` and not ``/`` separates the parts because Opsgenie puts the alias in a URL path.
"""

from __future__ import annotations

from enum import StrEnum

from integrations.base import Transition
from integrations.card import is_failure, is_recovery
from integrations.ehpc.task import Task

__all__ = ["IncidentAction", "incident_action", "incident_key"]

_MAX_KEY = 255  # PagerDuty's dedup_key limit; Opsgenie's alias allows 512


class IncidentAction(StrEnum):
    """What a transition does to its incident."""

    OPEN = "open"
    RESOLVE = "resolve"


def incident_key(task: Task) -> str:
    """``ehpc-bridge:<cluster id>:<task type>``: identical for a failure and the success that ends it."""
    return f"ehpc-bridge:{task.cluster_id}:{task.type_name}"[:_MAX_KEY]


def incident_action(transition: Transition) -> IncidentAction | None:
    """OPEN on Fail/PartialFail, RESOLVE on Success, None for anything else (started, progress, …)."""
    if is_failure(transition):
        return IncidentAction.OPEN
    if is_recovery(transition):
        return IncidentAction.RESOLVE
    return None
