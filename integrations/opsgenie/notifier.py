"""Sends transitions to Opsgenie's Alert API with ``Authorization: GenieKey <key>``.

Opsgenie answers 202 and processes asynchronously; a create whose alias is already open is deduplicated
by Opsgenie (count + 1, no second alert), so a redelivery is harmless. Whether a success may close, and
whether a failure still alerts, follows the tasks' times (:class:`integrations.incident.IncidentOrder`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from integrations.base import Transition
from integrations.http import send_request
from integrations.opsgenie.render import render_request
from integrations.pager import PagerCall, PagerNotifier
from integrations.target import EnvSecret, TargetConfig

__all__ = ["API_URL", "OpsgenieNotifier", "OpsgenieTarget"]

API_URL = "https://api.opsgenie.com"


class OpsgenieTarget(TargetConfig):
    """``type: opsgenie``: the API key by variable name; EU accounts set ``api_url``."""

    type: Literal["opsgenie"] = "opsgenie"
    api_key_env: EnvSecret
    api_url: str = Field(default=API_URL, pattern=r"^https?://")


class OpsgenieNotifier(PagerNotifier[OpsgenieTarget]):
    """Creates an alert on Fail/PartialFail and closes it by alias on the recovery."""

    def render(self, transition: Transition) -> PagerCall | None:
        """The Alert API call for ``transition`` (create, or close by alias)."""
        request = render_request(transition)
        if request is None:
            return None
        return PagerCall(
            url=self._target.api_url.rstrip("/") + request.path,
            json=request.body,
            params=request.params,
            headers=self._auth(),
            summary=request.path,
        )

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
