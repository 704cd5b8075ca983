"""``POST /eventbridge`` on the real ``ehpc-bridge slack-app`` (gunicorn) over HTTP, with real Redis.

What each delivery became is read where it lands: the polls waiting in the broker's ``poll`` queue (no
worker runs here, so they stay there) and the server's own ``/metrics``.
"""

from __future__ import annotations

import pytest

from tests.fixtures.eventbridge import (
    EVENTBRIDGE_TOKEN,
    BridgeServer,
    ehpc_event,
    queued_polls,
    start_bridge_server,
)
from tests.fixtures.pipeline import Stack
from tests.fixtures.processes import Processes
from tests.fixtures.redis_server import RedisServer

CLUSTER = "ehpc-hz-pipe0001"


@pytest.fixture
def server(stack: Stack, processes: Processes) -> BridgeServer:
    return start_bridge_server(processes)


def test_an_event_with_the_token_queues_one_poll_of_its_cluster_at_once(
    stack: Stack, server: BridgeServer
) -> None:
    answer = server.send(ehpc_event(CLUSTER))

    assert answer.status_code == 202
    assert answer.json() == {"result": "poll_queued", "cluster": CLUSTER, "countdown": 0.0}
    assert queued_polls(stack) == [(CLUSTER, False)]
    assert answer.elapsed.total_seconds() < 1.0


@pytest.mark.parametrize("token", [None, "", "wrong-token", EVENTBRIDGE_TOKEN[:-1], EVENTBRIDGE_TOKEN + "x"])
def test_a_missing_or_wrong_token_is_refused_and_queues_nothing(
    stack: Stack, processes: Processes, server: BridgeServer, token: str | None
) -> None:
    answer = server.send(ehpc_event(CLUSTER), token=token)

    assert answer.status_code == 401
    assert answer.json() == {"result": "refused", "error": "invalid token"}
    assert queued_polls(stack) == []
    assert server.counted("refused") == 1
    assert EVENTBRIDGE_TOKEN not in processes.output()
    assert (token or "(none)") not in processes.output().replace("invalid token", "")


def test_without_a_configured_token_every_event_is_refused(stack: Stack, processes: Processes) -> None:
    server = start_bridge_server(processes, EHPC_EVENTBRIDGE_TOKEN="")

    assert server.send(ehpc_event(CLUSTER), token="").status_code == 401
    assert server.send(ehpc_event(CLUSTER), token=EVENTBRIDGE_TOKEN).status_code == 401
    assert queued_polls(stack) == []
    assert "EHPC_EVENTBRIDGE_TOKEN is not set" in processes.output()


def test_a_replayed_event_id_is_ignored(stack: Stack, server: BridgeServer) -> None:
    event = ehpc_event(CLUSTER, event_id="4b7c-replayed")

    first, again = server.send(event), server.send(event)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["result"] == "duplicate"
    assert queued_polls(stack) == [(CLUSTER, False)]


def test_an_event_for_an_unknown_cluster_is_ignored_and_counted(stack: Stack, server: BridgeServer) -> None:
    answer = server.send(ehpc_event("ehpc-hz-notwatched"))

    assert answer.status_code == 200
    assert answer.json() == {"result": "unknown_cluster"}
    assert queued_polls(stack) == []
    assert server.counted("unknown_cluster") == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"<xml/>", "not JSON"), (b'["an", "array"]', "JSON object"), (b'{"source": "acs.ehpc"}', "no id")],
)
def test_a_body_that_is_not_an_event_is_400_with_the_reason(
    stack: Stack, server: BridgeServer, body: bytes, reason: str
) -> None:
    answer = server.send(body)

    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert queued_polls(stack) == []


def test_missing_or_unknown_data_fields_are_tolerated(stack: Stack, server: BridgeServer) -> None:
    no_data = ehpc_event(None, data={})
    odd_data = {**ehpc_event(CLUSTER, data={"Surprise": [1, {"x": None}], "Nested": {"ClusterId": 7}})}
    not_ehpc = {**ehpc_event(CLUSTER), "source": "acs.ecs", "type": "ecs:Instance:StatusNotification"}

    assert server.send(no_data).json() == {"result": "unknown_cluster"}
    assert server.send(odd_data).status_code == 202  # the subject still names the cluster
    assert server.send(not_ehpc).json() == {"result": "not_ehpc"}
    assert queued_polls(stack) == [(CLUSTER, False)]


def test_a_burst_of_events_for_one_cluster_costs_one_poll_now_and_one_deferred(
    stack: Stack, processes: Processes
) -> None:
    server = start_bridge_server(processes, EHPC_EVENTBRIDGE_HINT_INTERVAL="60")

    answers = [server.send(ehpc_event(CLUSTER)).json() for _ in range(5)]

    assert [answer["result"] for answer in answers] == [
        "poll_queued",
        "poll_deferred",
        "paced",
        "paced",
        "paced",
    ]
    assert 0 < answers[1]["countdown"] <= 60
    assert sorted(queued_polls(stack)) == [(CLUSTER, False), (CLUSTER, True)]


def test_with_redis_down_an_event_is_503_at_once_and_counts_when_redelivered(
    stack: Stack, processes: Processes, redis_server: RedisServer
) -> None:
    server = start_bridge_server(processes, REDIS_URL=redis_server.url)
    event = ehpc_event(CLUSTER, event_id="during-the-outage")
    redis_server.kill()

    down = server.send(event)

    assert down.status_code == 503
    assert down.json() == {"result": "unavailable", "error": "try again"}
    assert down.elapsed.total_seconds() < 1.0
    redis_server.start()
    assert server.send(event).json()["result"] == "poll_queued"  # EventBridge's retry is not a duplicate
