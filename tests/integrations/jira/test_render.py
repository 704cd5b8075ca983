"""Jira bodies built without HTTP: labels Jira accepts, ADF it accepts, JQL that finds them again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from integrations.jira.render import (
    failure_labels,
    fingerprint_jql,
    issue_fields,
    label,
    open_failures_jql,
    recovery_comment,
)
from tests.fixtures.transitions import make_transition

PINGS = '<!channel> @all <at user_id="all">everyone</at> <@U123>'


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every ADF node under ``node``, depth first."""
    if isinstance(node, dict):
        yield node
        for child in node.get("content", ()):
            yield from nodes(child)


def test_labels_have_no_spaces_and_fit() -> None:
    transition = make_transition(cluster_id="hpc prod/01", task_type="Add Computes")
    labels = failure_labels(transition)
    assert labels[0] == "ehpc-bridge"
    assert "ehpc-cluster-hpc_prod_01" in labels
    assert "ehpc-type-Add_Computes" in labels
    assert all(" " not in name and 0 < len(name) <= 255 for name in labels)
    assert len(label("ehpc-fp", "x" * 400)) == 255


def test_jql_searches_the_labels_the_issue_carries() -> None:
    transition = make_transition()
    fields = issue_fields(transition, project_key="OPS", issue_type="Task")["fields"]
    assert fingerprint_jql(transition) == f'labels = "{label("ehpc-fp", transition.fingerprint)}"'
    assert label("ehpc-fp", transition.fingerprint) in fields["labels"]
    jql = open_failures_jql(make_transition(task_id="t-9", status="Success"))
    assert 'labels = "ehpc-cluster-ehpc-hz-prod01" AND labels = "ehpc-type-AddComputes"' in jql
    assert 'labels not in ("ehpc-recovered")' in jql
    assert "statusCategory != Done" in jql


def test_issue_has_summary_and_a_valid_adf_description() -> None:
    fields = issue_fields(
        make_transition(errors=[{"Code": "E1", "Message": PINGS}]),
        project_key="OPS",
        issue_type="Bug",
        extra_labels=("hpc team",),
    )["fields"]
    assert fields["project"] == {"key": "OPS"}
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "[E-HPC] Adding compute nodes failed on prod (task task-0001)"
    assert "hpc_team" in fields["labels"]
    doc = fields["description"]
    assert (doc["type"], doc["version"]) == ("doc", 1)
    texts = [node["text"] for node in nodes(doc) if node["type"] == "text"]
    assert all(texts)  # ADF refuses empty text nodes
    assert {node["type"] for node in nodes(doc)} <= {
        "doc",
        "paragraph",
        "text",
        "bulletList",
        "listItem",
        "heading",
    }  # API text stays text: no mention or link node can appear
    assert f"E1 {PINGS}" in texts
    assert "compute0 (i-0001, 10.0.0.5)" in texts


def test_summary_is_one_line_and_bounded() -> None:
    fields = issue_fields(
        make_transition(cluster_name="a\nb" + "x" * 400), project_key="OPS", issue_type="Task"
    )["fields"]
    assert "\n" not in fields["summary"]
    assert len(fields["summary"]) <= 255


def test_recovery_comment_names_the_successful_task() -> None:
    body = recovery_comment(make_transition(task_id="t-9", status="Success"))
    (text,) = [node["text"] for node in nodes(body["body"]) if node["type"] == "text"]
    assert text.startswith("Recovered: a later adding compute nodes on prod succeeded (task t-9")
