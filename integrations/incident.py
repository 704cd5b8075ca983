"""The one incident key shared by PagerDuty (``dedup_key``) and Opsgenie (``alias``), and when a success
resolves a failure: by the tasks' times, never by the order their deliveries happen to run in.

Key: a failure of task type T on cluster C opens (or joins) the incident ``ehpc-bridge:C:T``. The key
holds no task id, so a redelivered failure re-sends the same key (the vendor deduplicates) and a second
failure of the same type joins the open incident instead of paging again. ``:`` and not ``/`` separates
the parts because Opsgenie puts the alias in a URL path.

Order: a success *recovers only a failure that ended before the success began* (failure ``observed_at``
< success ``first_seen``). Deliveries of different tasks run independently, so a Fail of task X and a
Success of task Y can reach a vendor in either order; :class:`IncidentOrder` keeps, per (target, key), an
:class:`IncidentLedger` (the worker's is one Redis hash updated by one Lua call) of each failure's end and
the latest success's start, and decides from those times alone:

* a failure whose end is after every recorded success's start is open (trigger / create the ticket);
  one that ended before a recorded success began is already recovered — pagers send nothing, ticket
  systems open the ticket and recover it at once (the ticket is the record of the failed task);
* a success recovers exactly the failures that ended before it began (ticket systems resolve those
  tickets); a pager's incident, shared by the whole key, is resolved only when no failure of the key is
  left open, i.e. none ended after the latest success began.

Without a ledger (a notifier built outside the worker) the rule falls back to "a success resolves the
key", stateless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from integrations.base import Transition
from integrations.card import is_failure, is_recovery
from integrations.ehpc.task import Task

__all__ = [
    "IncidentAction",
    "IncidentLedger",
    "IncidentOrder",
    "Recovery",
    "incident_action",
    "incident_key",
]

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


class IncidentLedger(Protocol):
    """Per incident key: when each failed task ended, and the latest success (its start and its JSON).

    Times are epoch milliseconds. Both calls are atomic and idempotent (a redelivery answers the same).
    """

    def failed(self, key: str, *, task_key: str, ended_ms: int) -> str | None:
        """Note the failure; the JSON of a recorded success that began after it ended, or None (open)."""

    def succeeded(self, key: str, *, began_ms: int, success_json: str) -> tuple[list[str], bool]:
        """Note the success; (task keys of failures that ended before it began, whether any stays open)."""


@dataclass(frozen=True)
class Recovery:
    """What one success does: the failed tasks it recovers (None: unknown, every open one of the key), and
    whether a failure of the key stays open (then a shared pager incident must not be resolved)."""

    recovered: frozenset[str] | None
    still_open: bool


class IncidentOrder:
    """Applies the time rule of the module docstring for one target, on its ledger (if any)."""

    def __init__(self, ledger: IncidentLedger | None) -> None:
        self._ledger = ledger

    def pager_acts(self, transition: Transition) -> bool:
        """For a pager's shared incident: trigger an open failure, resolve when none stays open.

        False for a failure a success that began after it ended already recovers, and for a success while
        a failure of its key that ended later stays open; True for anything else.
        """
        if is_failure(transition):
            return self.failure(transition) is None
        if is_recovery(transition):
            return not self.success(transition).still_open
        return True

    def failure(self, transition: Transition) -> Transition | None:
        """Record a failure; the success that already recovers it (delivered first), or None: it is open."""
        if self._ledger is None:
            return None
        ended = _ms(transition.observed_at)
        found = self._ledger.failed(
            incident_key(transition.task), task_key=transition.task_key, ended_ms=ended
        )
        return None if found is None else Transition.model_validate_json(found)

    def success(self, transition: Transition) -> Recovery:
        """Record a success and say which failures it recovers."""
        if self._ledger is None:
            return Recovery(recovered=None, still_open=False)
        recovered, still_open = self._ledger.succeeded(
            incident_key(transition.task),
            began_ms=_ms(transition.first_seen),
            success_json=transition.model_dump_json(),
        )
        return Recovery(recovered=frozenset(recovered), still_open=still_open)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
