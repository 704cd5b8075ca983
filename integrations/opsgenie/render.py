"""Opsgenie Alert API requests as data (https://docs.opsgenie.com/docs/alert-api).

A failure creates an alert whose ``alias`` is :func:`integrations.incident.incident_key` (Opsgenie
deduplicates open alerts by alias); the next success of the same type on the same cluster closes it by
alias. Limits from the API docs that the spec does not state are held here: message ≤ 130 characters,
description ≤ 15,000, tags ≤ 50 characters each, detail values ≤ 8,000 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from integrations.base import Transition
from integrations.card import clip, recovery_line, task_card, text_lines
from integrations.ehpc.task import TaskStatus
from integrations.incident import IncidentAction, incident_action, incident_key

__all__ = ["SOURCE", "OpsgenieRequest", "render_request"]

SOURCE = "ehpc-bridge"
_PRIORITY = {TaskStatus.FAIL: "P2", TaskStatus.PARTIAL_FAIL: "P3"}
_MAX_MESSAGE = 130
_MAX_DESCRIPTION = 15000
_MAX_TAG = 50
_MAX_DETAIL = 8000


@dataclass(frozen=True)
class OpsgenieRequest:
    """One Alert API call: ``path`` below the API root, its query and its JSON body."""

    path: str
    params: dict[str, str]
    body: dict[str, Any]


def render_request(transition: Transition) -> OpsgenieRequest | None:
    """Create on Fail/PartialFail, close by alias on Success, None for anything else."""
    action = incident_action(transition)
    if action is None:
        return None
    task = transition.task
    alias = incident_key(task)
    if action is IncidentAction.RESOLVE:
        return OpsgenieRequest(
            path=f"/v2/alerts/{quote(alias, safe='')}/close",
            params={"identifierType": "alias"},
            body={"source": SOURCE, "note": recovery_line(transition)},
        )
    card = task_card(transition)
    details = {name: clip(value, _MAX_DETAIL) for name, value in card.fields}
    details["Fingerprint"] = transition.fingerprint
    tags = [SOURCE, task.cluster_id, task.type_name]
    return OpsgenieRequest(
        path="/v2/alerts",
        params={},
        body={
            "message": clip(card.headline, _MAX_MESSAGE),
            "alias": alias,
            "description": clip("\n".join(text_lines(card)), _MAX_DESCRIPTION),
            "tags": [clip(tag, _MAX_TAG) for tag in tags if tag],
            "details": details,
            "entity": task.cluster_id or transition.cluster_name,
            "source": SOURCE,
            "priority": _PRIORITY[task.status],
        },
    )
