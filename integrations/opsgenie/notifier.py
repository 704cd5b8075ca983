"""Sends transitions to Opsgenie's Alert API with ``Authorization: GenieKey <key>``.

Opsgenie answers 202 and processes asynchronously; a create whose alias is already open is deduplicated
by Opsgenie (count + 1, no second alert), so a redelivery is harmless. Whether a success may close, and
whether a failure still alerts, follows the tasks' times (:class:`integrations.incident.IncidentOrder`).
"""

from __future__ import annotations

import logging
from typing import Literal

import requests
from pydantic import Field

from integrations.base import Transition
from integrations.http import send_request
from integrations.opsgenie.render import render_request
from integrations.target import EnvSecret, NotifierContext, TargetConfig

__all__ = ["API_URL", "OpsgenieNotifier", "OpsgenieTarget"]

API_URL = "https://api.opsgenie.com"
log = logging.getLogger(__name__)


class OpsgenieTarget(TargetConfig):
    """``type: opsgenie``: the API key by variable name; EU accounts set ``api_url``."""

    type: Literal["opsgenie"] = "opsgenie"
    api_key_env: EnvSecret
    api_url: str = Field(default=API_URL, pattern=r"^https?://")


class OpsgenieNotifier:
    """Creates an alert on Fail/PartialFail and closes it by alias on the recovery."""

    def __init__(
        self, target: OpsgenieTarget, *, session: requests.Session, context: NotifierContext
    ) -> None:
        self._target = target
        self._session = session
        self._order = context.incident_order(target.name)

    def send(self, transition: Transition) -> None:
        """Send the Alert API call for ``transition``; transitions that alert nobody are skipped."""
        request = render_request(transition)
        if request is None:
            log.debug("%s: %s is not an incident change", self._target.name, transition.fingerprint)
            return
        if not self._order.pager_acts(transition):
            log.info("%s: %s changes nothing by now", self._target.name, transition.fingerprint)
            return
        send_request(
            session=self._session,
            method="POST",
            url=self._target.api_url.rstrip("/") + request.path,
            destination=self._target.name,
            json=request.body,
            params=request.params,
            headers=self._auth(),
            secrets=self._target.secret_values(),
        )
        log.info("%s: %s (%s)", self._target.name, request.path, transition.fingerprint)

    def check(self) -> str:
        """Prove the API key works with a harmless read (list one alert); for ``ehpc-bridge check``."""
        send_request(
            session=self._session,
            method="GET",
            url=self._target.api_url.rstrip("/") + "/v2/alerts",
            destination=self._target.name,
            params={"limit": "1"},
            headers=self._auth(),
            secrets=self._target.secret_values(),
        )
        return f"API key accepted by {self._target.api_url}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self._target.api_key_env.get()}"}
