"""ServiceNow Table API: one ``incident`` per failed task, resolved when the kind recovers.

No public machine-readable ServiceNow spec exists (``tests/contracts/README.md``): this client
follows the Table API documentation (basic auth, JSON bodies, answers wrapped as ``{"result": …}``) and is
tested against a stand-in that does the same (``tests/fixtures/servicenow.py``); check it against a real
instance (a free Personal Developer Instance will do) before relying on it.

On Fail/PartialFail: ``GET /api/now/table/incident?sysparm_query=correlation_id=<key>`` and ``POST`` only
when none exists, so a retry or a restart never opens a second incident. On Success: the open incidents
whose ``correlation_id`` starts with the same cluster and task type, and whose failure ended before the
success began (:class:`integrations.ticket.TicketNotifier`), are ``PATCH``ed to state 6 (Resolved) with
``close_code``/``close_notes``. https://docs.servicenow.com/bundle/latest/page/integrate/inbound-rest/concept/c_TableAPI.html
"""

from __future__ import annotations

import logging
from typing import Literal

import requests
from pydantic import Field

from integrations.base import PermanentDeliveryError, Transition
from integrations.servicenow.render import (
    correlation_id,
    incident_body,
    open_incidents_query,
    resolve_body,
    same_task_query,
)
from integrations.target import EnvSecret, NotifierContext, TargetConfig
from integrations.ticket import BasicAuthApi, TicketNotifier

__all__ = ["ServiceNowNotifier", "ServiceNowTarget"]

log = logging.getLogger(__name__)

_TABLE = "/api/now/table/incident"
_PAGE = "20"


class ServiceNowTarget(TargetConfig):
    """An instance and the account the bridge files incidents as (it needs the ``itil`` role)."""

    type: Literal["servicenow"] = "servicenow"
    instance_url: str = Field(
        pattern=r"^https?://[^/\s]+/?$", description="https://<instance>.service-now.com"
    )
    username: str = Field(min_length=1)
    password_env: EnvSecret
    assignment_group: str | None = None
    caller_id: str | None = None
    category: str | None = None
    close_code: str = "Solution provided"


class ServiceNowNotifier(TicketNotifier):
    """Opens and resolves ServiceNow incidents for failed E-HPC tasks."""

    def __init__(
        self, target: ServiceNowTarget, *, session: requests.Session, context: NotifierContext
    ) -> None:
        self._target = target
        self._api = BasicAuthApi(
            session=session,
            base_url=target.instance_url,
            username=target.username,
            password=target.password_env.get(),
            destination=target.name,
        )
        self._order = context.incident_order(target.name)

    def _open(self, transition: Transition) -> None:
        existing = self._query(same_task_query(transition))
        if existing:
            log.info("%s: %s already open for %s", self._target.name, existing[0][1], transition.task_key)
            return
        body = incident_body(
            transition,
            assignment_group=self._target.assignment_group,
            caller_id=self._target.caller_id,
            category=self._target.category,
        )
        created = self._api.call_json("POST", _TABLE, json=body).get("result")
        number = created.get("number") if isinstance(created, dict) else None
        log.info("%s: opened %s for %s", self._target.name, number, transition.task_key)

    def _recover(self, transition: Transition, *, only: frozenset[str] | None) -> None:
        body = resolve_body(transition, close_code=self._target.close_code)
        wanted = None
        if only is not None:
            wanted = {correlation_id(transition, task_id=task_key.split("/", 1)[-1]) for task_key in only}
        for sys_id, number, correlation in self._query(open_incidents_query(transition)):
            if wanted is not None and correlation not in wanted:
                continue  # that failure ended after this success began: it stays open
            self._api.call("PATCH", f"{_TABLE}/{sys_id}", json=body)
            log.info("%s: resolved %s, recovered by %s", self._target.name, number, transition.task_key)

    def _query(self, query: str) -> list[tuple[str, str, str]]:
        """(sys_id, number, correlation_id) of the incidents ``query`` finds."""
        fields = "sys_id,number,correlation_id"
        params = {"sysparm_query": query, "sysparm_fields": fields, "sysparm_limit": _PAGE}
        rows = self._api.call_json("GET", _TABLE, params=params).get("result")
        if not isinstance(rows, list):
            raise PermanentDeliveryError(
                f"{self._target.name}: incident query answered without a 'result' list",
                destination=self._target.name,
            )
        return [
            (str(row["sys_id"]), str(row.get("number", "")), str(row.get("correlation_id", "")))
            for row in rows
            if isinstance(row, dict) and row.get("sys_id")
        ]
