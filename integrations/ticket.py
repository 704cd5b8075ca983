"""What the ticketing integrations (Jira, ServiceNow) share: a basic-auth JSON API and the ticket rule.

The rule: a task finishing in Fail/PartialFail opens one ticket (searched for first, so a retry or a
restart never opens a second); a task of the same type on the same cluster finishing in Success recovers
the open tickets of that kind whose failure ended before the success began (the time rule of
:mod:`integrations.incident`, whatever order the deliveries run in). A failure delivered after a success
that already recovers it still gets its ticket, recovered at once. Other transitions are ignored.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import requests

from integrations.base import Transition
from integrations.card import is_failure, is_recovery
from integrations.http import json_object, send_request
from integrations.incident import IncidentOrder

__all__ = ["BasicAuthApi", "TicketNotifier"]


class BasicAuthApi:
    """A vendor's JSON API under ``base_url`` with HTTP basic auth, over the shared session."""

    def __init__(
        self,
        *,
        session: requests.Session,
        base_url: str,
        username: str,
        password: str,
        destination: str,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._destination = destination
        self._authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._secrets = (password, self._authorization)

    def call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> requests.Response:
        """Send one request; non-2xx answers and transport failures raise a ``DeliveryError``."""
        return send_request(
            session=self._session,
            method=method,
            url=self._base_url + path,
            destination=self._destination,
            json=json,
            params=params,
            headers={"Authorization": self._authorization, "Accept": "application/json"},
            secrets=self._secrets,
        )

    def call_json(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """:meth:`call` and return the answer's JSON object."""
        return json_object(self.call(method, path, json=json, params=params), destination=self._destination)


class TicketNotifier(ABC):
    """Applies the ticket rule; vendors say how to open and how to recover."""

    _order: IncidentOrder = IncidentOrder(None)

    def send(self, transition: Transition) -> None:
        """Open the task's ticket on failure, recover its kind's earlier tickets on success; else nothing."""
        if is_failure(transition):
            recovered_by = self._order.failure(transition)
            self._open(transition)
            if recovered_by is not None:
                self._recover(recovered_by, only=frozenset({transition.task_key}))
        elif is_recovery(transition):
            self._recover(transition, only=self._order.success(transition).recovered)

    @abstractmethod
    def _open(self, transition: Transition) -> None:
        """Open the ticket of a failed task unless one already exists."""

    @abstractmethod
    def _recover(self, transition: Transition, *, only: frozenset[str] | None) -> None:
        """Comment on, resolve or close the open tickets ``transition``'s success recovers: those of the
        failed tasks in ``only`` (task keys), or every open one of its kind when ``only`` is None."""
