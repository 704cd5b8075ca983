"""Reading an EventBridge delivery: the envelope's id, and a cluster id wherever E-HPC may have put it."""

from __future__ import annotations

import json

import pytest

from worker.hints.event import MalformedEventError, parse_event

CLUSTER = "ehpc-hz-abc123"


def body(**fields: object) -> bytes:
    return json.dumps(
        {"id": "e-1", "source": "acs.ehpc", "type": "ehpc:Instant:CreateJob", **fields}
    ).encode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"data": {"clusterId": CLUSTER}}, (CLUSTER,)),
        ({"data": {"ClusterId": CLUSTER, "Status": "running"}}, (CLUSTER,)),
        ({"data": {"cluster_id": CLUSTER}}, (CLUSTER,)),
        ({"data": {"detail": {"resource": {"ClusterId": CLUSTER}}}}, (CLUSTER,)),
        (
            {"subject": f"acs.ehpc:cn-hangzhou:1234567890:{CLUSTER}"},
            (CLUSTER, "1234567890", "cn-hangzhou", "acs.ehpc"),
        ),
        (
            {"subject": f"acs.ehpc:cn-hangzhou:123:clusters/{CLUSTER}"},
            (CLUSTER, "clusters", "123", "cn-hangzhou", "acs.ehpc"),
        ),
        ({"data": None, "subject": None}, ()),
        ({"data": "not an object", "unknownField": 1}, ()),
        ({"data": {"clusterId": 42, "ClusterId": "has spaces in it"}}, ()),
    ],
)
def test_a_cluster_id_is_found_in_data_then_in_the_subject(
    fields: dict[str, object], expected: tuple[str, ...]
) -> None:
    assert parse_event(body(**fields)).cluster_ids == expected


def test_data_comes_before_the_subject_and_each_id_once() -> None:
    event = parse_event(body(data={"clusterId": CLUSTER}, subject=f"acs.ehpc:cn-hangzhou:1:{CLUSTER}"))
    assert event.cluster_ids.count(CLUSTER) == 1
    assert event.cluster_ids[0] == CLUSTER


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not text", "not JSON"),
        (b"{truncated", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"source": "acs.ehpc"}', "no id"),
        (b'{"id": ""}', "no id"),
    ],
)
def test_a_body_that_is_not_an_event_says_why(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEventError, match=reason):
        parse_event(raw)


@pytest.mark.parametrize(
    ("source", "event_type", "from_ehpc"),
    [
        ("acs.ehpc", "ehpc:ClusterOperation:ClusterStarted", True),
        ("acs.ecs", "ehpc:Instant:CreateJob", True),
        ("acs.ecs", "ecs:Instance:StatusNotification", False),
        ("", "", False),
    ],
)
def test_only_ehpc_events_are_hints(source: str, event_type: str, from_ehpc: bool) -> None:
    raw = json.dumps({"id": "e-1", "source": source, "type": event_type}).encode()
    assert parse_event(raw).from_ehpc is from_ehpc
