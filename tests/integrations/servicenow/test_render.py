"""ServiceNow bodies and encoded queries built without HTTP."""

from __future__ import annotations

from integrations.servicenow.render import (
    correlation_id,
    incident_body,
    open_incidents_query,
    resolve_body,
    same_task_query,
)
from tests.fixtures.transitions import make_transition


def test_correlation_id_is_scoped_by_cluster_and_type() -> None:
    transition = make_transition(cluster_id="c^1=x")
    assert correlation_id(transition) == "ehpc/c_1_x/AddComputes/task-0001"
    assert same_task_query(transition) == "correlation_id=ehpc/c_1_x/AddComputes/task-0001"
    assert (
        open_incidents_query(transition) == "correlation_idSTARTSWITHehpc/c_1_x/AddComputes/^stateNOT IN6,7,8"
    )


def test_long_correlation_id_is_hashed_within_100_characters() -> None:
    first = correlation_id(make_transition(task_id="t" * 120))
    second = correlation_id(make_transition(task_id="t" * 119 + "u"))
    assert len(first) <= 100
    assert first != second
    assert first.startswith("ehpc/ehpc-hz-prod01/AddComputes/")


def test_optional_fields_only_when_configured() -> None:
    body = incident_body(make_transition())
    assert "assignment_group" not in body
    assert body["correlation_display"] == "ehpc-bridge"
    assert incident_body(make_transition(), caller_id="abc")["caller_id"] == "abc"


def test_resolve_body() -> None:
    body = resolve_body(make_transition(task_id="t-9", status="Success"), close_code="Solved (Permanently)")
    assert body["state"] == "6"
    assert body["close_code"] == "Solved (Permanently)"
    assert "task t-9" in body["close_notes"]
