"""Sends transitions to PagerDuty's Events API v2 (https://developer.pagerduty.com/api-reference/).

Delivery is idempotent: the ``dedup_key`` makes a redelivered trigger join the incident it already
opened, and a redelivered resolve resolves nothing new. Whether a success may resolve, and whether a
failure still pages, follows the tasks' times (:class:`integrations.incident.IncidentOrder`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from integrations.base import Transition
from integrations.pager import PagerCall, PagerNotifier
from integrations.pagerduty.render import render_event
from integrations.target import EnvSecret, TargetConfig

__all__ = ["EVENTS_URL", "PagerDutyNotifier", "PagerDutyTarget"]

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class PagerDutyTarget(TargetConfig):
    """``type: pagerduty``: the integration key by variable name; EU accounts set ``events_url``."""

    type: Literal["pagerduty"] = "pagerduty"
    routing_key_env: EnvSecret
    events_url: str = Field(default=EVENTS_URL, pattern=r"^https?://")


class PagerDutyNotifier(PagerNotifier[PagerDutyTarget]):
    """Triggers on Fail/PartialFail, resolves on the recovery (see :mod:`integrations.incident`)."""

    def render(self, transition: Transition) -> PagerCall | None:
        """The event for ``transition`` (trigger or resolve), linking the task's Slack thread if known."""
        thread_url = self._links.permalink(task_key=transition.task_key) if self._links else None
        event = render_event(
            transition, routing_key=self._target.routing_key_env.get(), thread_url=thread_url
        )
        if event is None:
            return None
        return PagerCall(
            url=self._target.events_url, json=event, summary=f"{event['event_action']} {event['dedup_key']}"
        )
