"""The Slack app end to end: signed requests over real HTTP (and through bolt's dispatch) against real Redis,
the E-HPC simulator behind the real client, the Slack stand-in, and a local server standing in for
``response_url``. Every ``blocks`` array seen anywhere (ack bodies, response_url posts, Web API calls) is
validated against the Block Kit schema.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml
from prometheus_client import REGISTRY
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from integrations.base import Transition
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.simulator import SimulatorServer
from integrations.slack.commands import ACTION_MORE, ACTION_MUTE_HOUR, ACTION_REFRESH, ACTION_SHARE, PAGE_SIZE
from integrations.slack.standin import SlackStandIn
from tests.fixtures.contracts import CONTRACTS
from tests.fixtures.environment import REDIS_URL
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET
from tests.fixtures.slack_app import (
    ADMIN,
    CHANNEL,
    CLUSTER,
    CLUSTER_NAME,
    HTTP_ONLY,
    MEMBER,
    NOW,
    OTHER_CHANNEL,
    OTHER_CLUSTER,
    SECRET,
    FrozenClock,
    Harness,
    command_body,
    signed_headers,
)
from worker.deliver.dead_letters import DeadLetters
from worker.deliver.mutes import Mutes
from worker.detect.diff import ClusterRef, Source
from worker.slack_app.access import AccessPolicy
from worker.slack_app.app import COMMAND, EVENTS_PATH, Services, build_app
from worker.slack_app.cli import run_slack_app
from worker.slack_app.directory import ClusterDirectory
from worker.slack_app.failures import Retries
from worker.slack_app.lookup import Lookup
from worker.store.keys import Keys


def _text(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + payload.get("text", "")


def _actions(payload: dict[str, Any]) -> dict[str, str]:
    return {
        element["action_id"]: element["value"]
        for block in payload.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    }


# Slack's signature, with the documented worked example


def _vector() -> dict[str, str]:
    return json.loads((CONTRACTS / "slack" / "signing_test_vector.json").read_text())


def _never(destination: str, transition: Transition) -> None:
    raise AssertionError("the signature tests deliver nothing")


def _vector_app(clock: FrozenClock, redis_client: redis.Redis, redis_prefix: str, slack: SlackStandIn) -> App:
    vector = _vector()
    keys = Keys(prefix=redis_prefix)
    letters = DeadLetters(client=redis_client, keys=keys)
    services = Services(
        lookup=Lookup(client=redis_client, keys=keys),
        mutes=Mutes(client=redis_client, keys=keys),
        access=AccessPolicy(clusters=[]),
        live=EhpcClient(endpoint="http://127.0.0.1:9", access_key_id="unused", access_key_secret="unused"),
        now=clock.now,
        directory=ClusterDirectory(),
        dead_letters=letters,
        retries=Retries(store=letters, client=redis_client, keys=keys, redeliver=_never),
    )
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url)
    return build_app(
        services=services, client=client, signing_secret=vector["signing_secret"], token_verification=False
    )


def _vector_request(*, body: str | None = None) -> BoltRequest:
    vector = _vector()
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [vector["x_slack_request_timestamp"]],
        "x-slack-signature": [vector["x_slack_signature"]],
    }
    return BoltRequest(body=vector["body"] if body is None else body, headers=headers)


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (299, True), (301, False), (-301, False)])
def test_signing_vector_is_verified_with_an_injected_clock(
    redis_client: redis.Redis, redis_prefix: str, slack_standin: SlackStandIn, age: int, accepted: bool
) -> None:
    sent = datetime.fromtimestamp(int(_vector()["x_slack_request_timestamp"]), UTC)
    app = _vector_app(FrozenClock(sent + timedelta(seconds=age)), redis_client, redis_prefix, slack_standin)
    response = app.dispatch(_vector_request())
    # A verified request reaches the listeners: /webhook-collect is not ours, so bolt answers 404.
    assert response.status == (404 if accepted else 401)


def test_signing_vector_with_a_tampered_body_is_refused(
    redis_client: redis.Redis, redis_prefix: str, slack_standin: SlackStandIn
) -> None:
    vector = _vector()
    sent = datetime.fromtimestamp(int(vector["x_slack_request_timestamp"]), UTC)
    app = _vector_app(FrozenClock(sent), redis_client, redis_prefix, slack_standin)
    assert app.dispatch(_vector_request(body=vector["body"].replace("foobar", "foobaz"))).status == 401


# Requests that are not Slack's: 401 and nothing else


def _nothing_happened(harness: Harness) -> None:
    harness.settle()
    assert not harness.redis.exists(harness.keys.mute(cluster_id=CLUSTER))
    assert [r for r in harness.standin.requests() if r.path != "/api/auth.test"] == []
    assert harness.responses.bodies == []


def _mute_body(harness: Harness) -> str:
    return command_body(f"mute {CLUSTER} 2h", user=ADMIN, channel=CHANNEL, response_url=harness.responses.url)


@HTTP_ONLY
def test_a_forged_signature_is_refused(harness: Harness) -> None:
    body = _mute_body(harness)
    headers = signed_headers(body, timestamp=int(NOW.timestamp()), secret="not-the-secret")
    assert harness.post(body, headers=headers).status_code == 401
    _nothing_happened(harness)


@HTTP_ONLY
def test_a_missing_signature_is_refused(harness: Harness) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert harness.post(_mute_body(harness), headers=headers).status_code == 401
    _nothing_happened(harness)


@HTTP_ONLY
def test_a_tampered_body_is_refused(harness: Harness) -> None:
    signed_for = command_body("help", user=ADMIN, channel=CHANNEL, response_url=harness.responses.url)
    headers = signed_headers(signed_for, timestamp=int(NOW.timestamp()))
    assert harness.post(_mute_body(harness), headers=headers).status_code == 401
    _nothing_happened(harness)


@HTTP_ONLY
def test_a_stale_request_is_refused(harness: Harness) -> None:
    body = _mute_body(harness)
    headers = signed_headers(body, timestamp=int(NOW.timestamp()) - 301)
    assert harness.post(body, headers=headers).status_code == 401
    _nothing_happened(harness)


@HTTP_ONLY
def test_a_garbage_timestamp_is_refused(harness: Harness) -> None:
    body = _mute_body(harness)
    headers = signed_headers(body, timestamp=int(NOW.timestamp())) | {"X-Slack-Request-Timestamp": "soon"}
    assert harness.post(body, headers=headers).status_code == 401
    _nothing_happened(harness)


@HTTP_ONLY
def test_an_unsigned_ssl_check_is_refused_too(harness: Harness) -> None:
    body = "ssl_check=1&token=legacy-verification-token"
    assert (
        harness.post(body, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    )


@HTTP_ONLY
def test_a_refused_request_logs_no_body(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body = _mute_body(harness)
    headers = signed_headers(body, timestamp=int(NOW.timestamp()), secret="not-the-secret")
    with caplog.at_level(logging.INFO):
        assert harness.post(body, headers=headers).status_code == 401
    assert "refused a Slack request" in caplog.text
    assert "legacy-verification-token" not in caplog.text


# Subcommands


def test_help_answers_ephemerally(harness: Harness) -> None:
    answer = harness.command("help").json()
    assert answer["response_type"] == "ephemeral"
    assert "/ehpc mute" in _text(answer)


def test_an_unrecognised_command_is_echoed_escaped(harness: Harness) -> None:
    answer = harness.command("frobnicate <!channel>").json()
    text = _text(answer)
    assert "didn't understand" in text
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in text


def test_a_task_answers_from_redis_then_refreshes_live(harness: Harness) -> None:
    task_id = harness.sim.start_task(CLUSTER, "AddComputes", total_steps=5, step_seconds=10)
    harness.observe()
    harness.sim.clock.advance(25)  # E-HPC moves on; Redis still has the first poll

    answer = harness.command(f"task {task_id.lower()}").json()

    assert "as last polled" in _text(answer)
    assert "0/5" in _text(answer)
    assert _actions(answer) == {
        ACTION_REFRESH: f"{CLUSTER}/{task_id}",
        ACTION_MUTE_HOUR: f"{CLUSTER}/{task_id}",
        ACTION_SHARE: f"task {task_id}",
    }
    (update,) = harness.responses.wait_for(1)
    assert update["replace_original"] is True
    assert "live from E-HPC" in _text(update)
    assert "2/5" in _text(update)


def test_an_unchanged_task_sends_no_follow_up(harness: Harness) -> None:
    task_id = harness.sim.start_task(CLUSTER, "StopCluster", total_steps=5, step_seconds=10)
    harness.observe()
    answer = harness.command(f"task {task_id}").json()
    assert "Stopping cluster" in _text(answer)
    harness.settle()
    assert harness.responses.bodies == []


def test_an_unknown_task_gets_a_clear_answer(harness: Harness) -> None:
    task_id = str(uuid.uuid4()).upper()
    answer = harness.command(f"task {task_id}").json()
    assert "asking E-HPC live" in _text(answer)
    (update,) = harness.responses.wait_for(1)
    assert f"No task `{task_id}`" in _text(update)


def test_a_task_not_yet_polled_is_found_live(harness: Harness) -> None:
    task_id = harness.sim.start_task(CLUSTER, "DeleteComputes", total_steps=4, step_seconds=10)
    harness.command(f"task {task_id}")
    (update,) = harness.responses.wait_for(1)
    assert "Deleting compute nodes" in _text(update)
    assert ACTION_REFRESH in _actions(update)


def test_a_task_of_another_channels_cluster_is_not_shown(harness: Harness) -> None:
    task_id = harness.sim.start_task(OTHER_CLUSTER, "StopCluster")
    harness.command(f"task {task_id}")
    (update,) = harness.responses.wait_for(1)
    assert "No task" in _text(update)
    assert "1 cluster this channel can see" in _text(update)


def test_tasks_lists_running_tasks_newest_first(harness: Harness) -> None:
    older = harness.sim.start_task(CLUSTER, "AddComputes", total_steps=9)
    harness.observe()
    harness.clock.moment += timedelta(minutes=2)
    newer = harness.sim.start_task(CLUSTER, "StopComputes", total_steps=9)
    harness.observe()

    text = _text(harness.command(f"tasks {CLUSTER}").json())

    assert "2 running tasks" in text
    assert text.index(newer) < text.index(older)


def test_tasks_are_paged_with_a_more_button(harness: Harness) -> None:
    harness.sim.add_tasks(CLUSTER, PAGE_SIZE + 5, status="Processing")
    harness.observe()
    answer = harness.command(f"tasks {CLUSTER}").json()
    assert f"{PAGE_SIZE + 5} running tasks, 1–{PAGE_SIZE} shown" in _text(answer)
    more = _actions(answer)[ACTION_MORE]

    harness.action(ACTION_MORE, more)

    (page,) = harness.responses.wait_for(1)
    assert f"{PAGE_SIZE + 1}–{PAGE_SIZE + 5} shown" in _text(page)
    assert ACTION_MORE not in _actions(page)


def test_tasks_all_includes_finished_ones(harness: Harness) -> None:
    task_id = harness.sim.start_task(CLUSTER, "StartCluster", total_steps=2, step_seconds=10)
    harness.observe()
    harness.sim.clock.advance(60)
    finished = harness.live.get_task(CLUSTER, task_id)
    assert finished is not None
    cluster = ClusterRef(cluster_id=CLUSTER, name=CLUSTER_NAME)
    harness.state.observe_page(cluster=cluster, tasks=[finished], now=NOW, source=Source.LOOKUP)

    assert "Nothing is running" in _text(harness.command(f"tasks {CLUSTER}").json())
    text = _text(harness.command(f"tasks {CLUSTER} all").json())
    assert "1 recent tasks" in text
    assert task_id in text


def test_clusters_shows_last_poll_and_errors(harness: Harness) -> None:
    harness.lookup.record_poll(
        cluster_id=CLUSTER, at=NOW - timedelta(seconds=30), error="Throttling: slow down"
    )
    text = _text(harness.command("clusters").json())
    assert CLUSTER_NAME in text
    assert "polled 30s ago" in text
    assert "Throttling: slow down" in text
    assert OTHER_CLUSTER not in text  # another channel's


def test_mute_is_announced_in_the_clusters_channel(harness: Harness) -> None:
    answer = harness.command(f"mute {CLUSTER} 2h kernel upgrade <!channel>", user=ADMIN).json()
    assert "until 2026-11-27 00:00 UTC" in _text(answer)
    assert f"announced in <#{CHANNEL}>" in _text(answer)
    assert harness.mutes.current(CLUSTER, now=NOW) is not None
    (announcement,) = harness.posted()
    assert "kernel upgrade &lt;!channel&gt;" in announcement
    assert "<!channel>" not in announcement


def test_unmute_claims_the_summary_of_what_happened_for_the_worker_to_post(harness: Harness) -> None:
    harness.command(f"mute {CLUSTER} 1h", user=ADMIN)
    harness.sim.start_task(CLUSTER, "AddComputes")
    harness.observe()
    (task_id,) = harness.state.running_task_ids(cluster_id=CLUSTER)
    (held,) = harness.state.transitions_after(task_key=f"{CLUSTER}/{task_id}", sequence=0)
    assert harness.mutes.record_suppressed(CLUSTER, held, now=NOW)

    answer = harness.command(f"unmute {CLUSTER}", user=ADMIN).json()

    assert "Unmuted" in _text(answer)
    assert harness.mutes.current(CLUSTER, now=NOW) is None
    _muted, _unmuted = harness.posted()
    (summary,) = harness.mutes.pending()
    assert summary.transitions == (held,)
    assert summary.notice(cluster_name="genomics").summary_id == summary.summary_id


def test_unmute_of_a_cluster_not_muted_says_so(harness: Harness) -> None:
    assert "was not muted" in _text(harness.command(f"unmute {CLUSTER}", user=ADMIN).json())


# Authorization


def test_an_unauthorized_channel_is_refused_politely(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="worker.slack_app.access"):
        text = _text(harness.command(f"tasks {CLUSTER}", channel=OTHER_CHANNEL).json())
    assert "Sorry" in text
    assert "does not belong to this channel" in text
    assert f"refused lookup on cluster '{CLUSTER}' to user {MEMBER} in channel {OTHER_CHANNEL}" in caplog.text


def test_a_channel_without_clusters_is_refused(harness: Harness) -> None:
    text = _text(harness.command("clusters", channel="C0NOWHERE").json())
    assert "no watched cluster belongs to this channel" in text


def test_an_unauthorized_user_cannot_mute(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="worker.slack_app.access"):
        text = _text(harness.command(f"mute {CLUSTER} 2h", user=MEMBER).json())
    assert "not among the people allowed to mute" in text
    assert harness.mutes.current(CLUSTER, now=NOW) is None
    assert harness.posted() == []
    assert "refused mute" in caplog.text


def test_an_unwatched_cluster_is_refused(harness: Harness) -> None:
    text = _text(harness.command("tasks ehpc-hz-unknown1").json())
    assert "not one of the clusters ehpc-bridge watches" in text


# Buttons


def test_refresh_replaces_the_message_with_the_live_task(harness: Harness) -> None:
    task_id = harness.sim.start_task(CLUSTER, "ResetComputes", total_steps=5, step_seconds=10)
    harness.observe()
    harness.sim.clock.advance(45)

    assert harness.action(ACTION_REFRESH, f"{CLUSTER}/{task_id}", ephemeral=False).status_code == 200

    (update,) = harness.responses.wait_for(1)
    assert update["replace_original"] is True
    assert "4/5" in _text(update)
    assert ACTION_SHARE not in _actions(update)  # a channel message is not shared again


def test_mute_button_mutes_for_an_hour(harness: Harness) -> None:
    harness.action(ACTION_MUTE_HOUR, f"{CLUSTER}/{str(uuid.uuid4()).upper()}", user=ADMIN)
    (reply,) = harness.responses.wait_for(1)
    assert "until 2026-11-26 23:00 UTC" in _text(reply)
    assert harness.mutes.current(CLUSTER, now=NOW) is not None
    assert len(harness.posted()) == 1


def test_mute_button_refuses_who_may_not_mute(harness: Harness) -> None:
    harness.action(ACTION_MUTE_HOUR, f"{CLUSTER}/{str(uuid.uuid4()).upper()}", user=MEMBER)
    (reply,) = harness.responses.wait_for(1)
    assert "Sorry" in _text(reply)
    assert harness.mutes.current(CLUSTER, now=NOW) is None


def test_share_posts_the_answer_in_the_channel(harness: Harness) -> None:
    answer = harness.command("clusters").json()
    harness.action(ACTION_SHARE, _actions(answer)[ACTION_SHARE])
    (shared,) = harness.responses.wait_for(1)
    assert shared["response_type"] == "in_channel"
    assert CLUSTER_NAME in _text(shared)
    assert ACTION_SHARE not in _actions(shared)


def test_share_refuses_anything_but_a_lookup(harness: Harness) -> None:
    harness.action(ACTION_SHARE, f"mute {CLUSTER} 1d", user=ADMIN)
    (reply,) = harness.responses.wait_for(1)
    assert "Only lookups can be shared" in _text(reply)
    assert harness.mutes.current(CLUSTER, now=NOW) is None


# Bolt dispatch without HTTP


@HTTP_ONLY
def test_dispatch_answers_a_signed_command(harness: Harness) -> None:
    body = command_body("help", user=MEMBER, channel=CHANNEL, response_url=harness.responses.url)
    headers = {k.lower(): [v] for k, v in signed_headers(body, timestamp=int(NOW.timestamp())).items()}
    response = harness.app.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 200
    assert "/ehpc clusters" in response.body


# The production runner


def test_http_mode_without_a_signing_secret_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "SLACK_SIGNING_SECRET",
        "SLACK_SIGNING_SECRET_FILE",
        "SLACK_APP_TOKEN",
        "SLACK_APP_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("EHPC_CLUSTERS", CLUSTER)
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    assert run_slack_app(["--port", "0"]) == 2
    assert "SLACK_SIGNING_SECRET is not set" in capsys.readouterr().err


def test_a_cluster_without_a_channel_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SLACK_CHANNEL", "EHPC_CONFIG", "SLACK_APP_TOKEN", "SLACK_APP_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("EHPC_CLUSTERS", CLUSTER)
    assert run_slack_app(["--port", "0"]) == 2
    assert f"no Slack channel for cluster {CLUSTER}" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_serves_signed_requests_and_refuses_others(
    redis_prefix: str, slack_standin: SlackStandIn, simulator: SimulatorServer
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "EHPC_REDIS_PREFIX": redis_prefix,
        "EHPC_CLUSTERS": CLUSTER,
        "EHPC_ENDPOINT": simulator.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": SIMULATOR_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SIMULATOR_ACCESS_KEY_SECRET,
        "SLACK_CHANNEL": CHANNEL,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": slack_standin.base_url,
        "SLACK_SIGNING_SECRET": SECRET,
        "EHPC_METRICS_PORT": "0",  # the default 9810 may be held by another run on this host
    }
    env.pop("SLACK_APP_TOKEN", None)
    code = "import sys; from worker.slack_app.cli import run_slack_app; sys.exit(run_slack_app(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--host", "127.0.0.1", "--port", str(port), "--threads", "2"],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(url, data=b"", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)  # polling a port another process opens: no event to await
        body = command_body("clusters", user=MEMBER, channel=CHANNEL, response_url="http://127.0.0.1:9/x")
        now = int(time.time())
        good = requests.post(url, data=body, headers=signed_headers(body, timestamp=now), timeout=10)
        forged = requests.post(
            url, data=body, headers=signed_headers(body, timestamp=now, secret="x"), timeout=10
        )
        assert good.status_code == 200
        assert CLUSTER in _text(good.json())
        assert forged.status_code == 401
        assert requests.get(url.replace(EVENTS_PATH, "/other"), timeout=5).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_manifest_points_slack_at_this_app() -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[3] / "slack-app-manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert {"commands", "chat:write", "usergroups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_each_answered_command_is_counted_by_subcommand(harness: Harness) -> None:
    def served(command: str) -> float:
        value = REGISTRY.get_sample_value(
            "ehpc_bridge_slack_commands_total", {"command": command, "result": "answered"}
        )
        return value or 0.0

    before = served("help"), served("unrecognized")
    harness.command("help")
    harness.command("frobnicate")

    assert (served("help"), served("unrecognized")) == (before[0] + 1, before[1] + 1)


def test_a_mute_announcement_slack_refuses_is_told_to_the_muter(harness: Harness) -> None:
    harness.standin.fail_next(status=200, error="channel_not_found", method="chat.postMessage")
    text = _text(harness.command(f"mute {CLUSTER} 1h", user=ADMIN).json())
    assert ":mute: Muted" in text
    assert f"the announcement in <#{CHANNEL}> failed: Slack said `channel_not_found`" in text
