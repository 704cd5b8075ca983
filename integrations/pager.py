"""What the paging integrations (PagerDuty, Opsgenie) share: one API call per incident change.

A failure pages, the next success of that kind on that cluster resolves or closes, and the vendor's key
(PagerDuty ``dedup_key``, Opsgenie ``alias``) makes a redelivery harmless. Whether a change still acts by
now follows the tasks' times (:class:`integrations.incident.IncidentOrder`). A subclass only renders its
vendor's call (:meth:`PagerNotifier.render`); sending, skipping and logging are here, once.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests

from integrations.base import Transition
from integrations.http import send_request
from integrations.target import NotifierContext, TargetConfig

__all__ = ["PagerCall", "PagerNotifier"]

TargetT = TypeVar("TargetT", bound=TargetConfig)


@dataclass(frozen=True)
class PagerCall:
    """One vendor API call; ``summary`` names it in the log line (never a secret)."""

    url: str
    json: Mapping[str, Any]
    summary: str
    method: str = "POST"
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class PagerNotifier(ABC, Generic[TargetT]):
    """Sends :meth:`render`'s call for each transition that changes an incident by now."""

    def __init__(self, target: TargetT, *, session: requests.Session, context: NotifierContext) -> None:
        self._target = target
        self._session = session
        self._links = context.thread_links
        self._order = context.incident_order(target.name)
        self._log = logging.getLogger(type(self).__module__)  # the vendor's own logger name

    @abstractmethod
    def render(self, transition: Transition) -> PagerCall | None:
        """The vendor call for ``transition``, or None when it is not an incident change."""

    def send(self, transition: Transition) -> None:
        """Send the call for ``transition``; one that pages nobody, or changes nothing by now, is skipped."""
        call = self.render(transition)
        if call is None:
            self._log.debug("%s: %s is not an incident change", self._target.name, transition.fingerprint)
            return
        if not self._order.pager_acts(transition):
            self._log.info("%s: %s changes nothing by now", self._target.name, transition.fingerprint)
            return
        send_request(
            session=self._session,
            method=call.method,
            url=call.url,
            destination=self._target.name,
            json=dict(call.json),
            params=dict(call.params) if call.params is not None else None,
            headers=dict(call.headers) or None,
            secrets=self._target.secret_values(),
        )
        self._log.info("%s: %s (%s)", self._target.name, call.summary, transition.fingerprint)
