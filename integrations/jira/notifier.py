"""Jira Cloud (REST v3): one issue per failed task, a comment and a transition when the kind recovers.

On a task finishing in Fail/PartialFail: search ``labels = "ehpc-fp-<fingerprint>"`` and create the issue
only when none exists, so retries and restarts never open a second one. Jira's search index lags a
create by a moment, so the created key is also kept in the target's state store (when the worker gives
one) and checked first: a redelivery right after a create finds it there. On a task finishing in Success:
find the open issues of the same task type on the same cluster (labels, ``statusCategory != Done``)
whose failure ended before the success began (:class:`integrations.ticket.TicketNotifier`), comment on
each, transition it when ``resolve_transition`` is set, and label it ``ehpc-recovered`` (a retry after
a failure between the comment and the label comments again: at least once). Other transitions are not
Jira's business and are ignored. Auth: basic, account email + API token.
https://developer.atlassian.com/cloud/jira/platform/rest/v3/
"""

from __future__ import annotations

import logging
from typing import Literal

import requests
from pydantic import Field

from integrations.base import PermanentDeliveryError, Transition
from integrations.jira.render import (
    RECOVERED_LABEL,
    fingerprint_jql,
    issue_fields,
    label,
    open_failures_jql,
    recovery_comment,
)
from integrations.target import EnvSecret, NotifierContext, StateStore, TargetConfig
from integrations.ticket import BasicAuthApi, TicketNotifier

__all__ = ["JiraNotifier", "JiraTarget"]

log = logging.getLogger(__name__)

_SEARCH_LIMIT = 50
_REMEMBER_SECONDS = 7 * 24 * 3600  # covers redeliveries; past that the label search alone decides


class JiraTarget(TargetConfig):
    """A Jira Cloud site and project; ``resolve_transition`` is a transition id or name, or None."""

    type: Literal["jira"] = "jira"
    url: str = Field(pattern=r"^https?://[^/\s]+(/[^\s]*)?$", description="https://<site>.atlassian.net")
    email: str = Field(min_length=3)
    api_token_env: EnvSecret
    project_key: str = Field(min_length=1)
    issue_type: str = "Task"
    labels: tuple[str, ...] = ()
    resolve_transition: str | None = None


class JiraNotifier(TicketNotifier):
    """Opens and recovers Jira issues for failed E-HPC tasks."""

    def __init__(self, target: JiraTarget, *, session: requests.Session, context: NotifierContext) -> None:
        self._target = target
        self._state: StateStore | None = context.state_for(target.name) if context.state_for else None
        self._order = context.incident_order(target.name)
        self._api = BasicAuthApi(
            session=session,
            base_url=target.url,
            username=target.email,
            password=target.api_token_env.get(),
            destination=target.name,
        )

    def _open(self, transition: Transition) -> None:
        remembered = f"issue:{transition.fingerprint}"
        known = self._state.get(remembered) if self._state is not None else None
        existing = [known] if known else self._search(fingerprint_jql(transition))
        if existing:
            log.info("%s: issue %s already open for %s", self._target.name, existing[0], transition.task_key)
            return
        body = issue_fields(
            transition,
            project_key=self._target.project_key,
            issue_type=self._target.issue_type,
            extra_labels=self._target.labels,
        )
        key = str(self._api.call_json("POST", "/rest/api/3/issue", json=body).get("key") or "")
        if self._state is not None and key:
            self._state.set(remembered, key, ttl_seconds=_REMEMBER_SECONDS)
        log.info("%s: opened %s for %s", self._target.name, key, transition.task_key)

    def _recover(self, transition: Transition, *, only: frozenset[str] | None) -> None:
        wanted = None if only is None else {label("ehpc-task", task_key) for task_key in only}
        for key, issue_labels in self._search_labelled(open_failures_jql(transition)):
            if wanted is not None and not wanted & issue_labels:
                continue  # that failure ended after this success began: it stays open
            self._api.call("POST", f"/rest/api/3/issue/{key}/comment", json=recovery_comment(transition))
            if self._target.resolve_transition:
                transition_id = self._transition_id(key, self._target.resolve_transition)
                body = {"transition": {"id": transition_id}}
                self._api.call("POST", f"/rest/api/3/issue/{key}/transitions", json=body)
            labels = {"update": {"labels": [{"add": RECOVERED_LABEL}]}}
            self._api.call("PUT", f"/rest/api/3/issue/{key}", json=labels)
            log.info("%s: %s recovered by %s", self._target.name, key, transition.task_key)

    def _search(self, jql: str) -> list[str]:
        """Keys of the issues ``jql`` finds (first page: one task never has that many issues)."""
        return [key for key, _labels in self._search_labelled(jql)]

    def _search_labelled(self, jql: str) -> list[tuple[str, set[str]]]:
        """(key, labels) of the issues ``jql`` finds, first page."""
        body = {"jql": jql, "fields": ["labels"], "maxResults": _SEARCH_LIMIT}
        issues = self._api.call_json("POST", "/rest/api/3/search/jql", json=body).get("issues")
        found = []
        for issue in issues or ():
            if isinstance(issue, dict) and issue.get("key"):
                fields = issue.get("fields")
                labels = fields.get("labels") if isinstance(fields, dict) else None
                found.append((str(issue["key"]), {str(x) for x in labels or () if isinstance(x, str)}))
        return found

    def _transition_id(self, key: str, wanted: str) -> str:
        """``wanted`` as a transition id: itself when numeric, else looked up by name on the issue."""
        if wanted.isdigit():
            return wanted
        answer = self._api.call_json("GET", f"/rest/api/3/issue/{key}/transitions")
        for option in answer.get("transitions") or ():
            if isinstance(option, dict) and str(option.get("name", "")).casefold() == wanted.casefold():
                return str(option["id"])
        raise PermanentDeliveryError(
            f"{self._target.name}: issue {key} has no transition named {wanted!r}",
            destination=self._target.name,
        )
