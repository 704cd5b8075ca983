"""Sends transitions to PagerDuty's Events API v2 (https://developer.pagerduty.com/api-reference/).

Delivery is idempotent: the ``dedup_key`` makes a redelivered trigger join the incident it already
opened, and a redelivered resolve resolves nothing new. Whether a success may resolve, and whether a
failure still pages, follows the tasks' times (:class:`integrations.incident.IncidentOrder`).
"""

from __future__ import annotations

import logging
from typing import Literal

import requests
from pydantic import Field

from integrations.base import Transition
from integrations.http import send_request
from integrations.pagerduty.render import render_event
from integrations.target import EnvSecret, NotifierContext, TargetConfig

__all__ = ["EVENTS_URL", "PagerDutyNotifier", "PagerDutyTarget"]

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
log = logging.getLogger(__name__)


class PagerDutyTarget(TargetConfig):
    """``type: pagerduty``: the integration key by variable name; EU accounts set ``events_url``."""

    type: Literal["pagerduty"] = "pagerduty"
    routing_key_env: EnvSecret
    events_url: str = Field(default=EVENTS_URL, pattern=r"^https?://")


class PagerDutyNotifier:
    """Triggers on Fail/PartialFail, resolves on the recovery (see :mod:`integrations.incident`)."""

    def __init__(
        self, target: PagerDutyTarget, *, session: requests.Session, context: NotifierContext
    ) -> None:
        self._target = target
        self._session = session
        self._links = context.thread_links
        self._order = context.incident_order(target.name)

    def send(self, transition: Transition) -> None:
        """POST the event for ``transition`` to ``/enqueue``; transitions that page nobody are skipped."""
        thread_url = self._links.permalink(task_key=transition.task_key) if self._links else None
        event = render_event(
            transition, routing_key=self._target.routing_key_env.get(), thread_url=thread_url
        )
        if event is None:
            log.debug("%s: %s is not an incident change", self._target.name, transition.fingerprint)
            return
        if not self._order.pager_acts(transition):
            log.info("%s: %s changes nothing by now", self._target.name, transition.fingerprint)
            return
        send_request(
            session=self._session,
            method="POST",
            url=self._target.events_url,
            destination=self._target.name,
            json=event,
            secrets=self._target.secret_values(),
        )
        log.info(
            "%s: %s %s (%s)",
            self._target.name,
            event["event_action"],
            event["dedup_key"],
            transition.fingerprint,
        )
