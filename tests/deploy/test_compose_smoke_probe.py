"""The checks scripts/compose-smoke.sh relies on (scripts/compose-smoke-probe.py) tell a pass from a failure.

The smoke test itself needs a Docker engine (CI runs it from .ci/run); here its probe runs against the
Slack stand-in over real HTTP, with messages shaped as the bridge posts them (task metadata), so that
a duplicated task message or a missing final reply is seen to fail it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from slack_sdk import WebClient

from integrations.slack.standin import SlackStandIn
from tests.deploy.compose import ROOT

PROBE = ROOT / "scripts" / "compose-smoke-probe.py"
CHANNEL = "ehpc-demo"
KEY = "ehpc-hz-demo0003/T-1"


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=30, check=False
    )


def _metadata(event_type: str, key: str) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": {"task_key": key, "fingerprint": key, "sequence": 1}}


def _post(standin: SlackStandIn, text: str, event_type: str, key: str, thread_ts: str | None = None) -> str:
    client = WebClient(token="xoxb-test-token", base_url=standin.base_url)
    answer = client.chat_postMessage(
        channel=CHANNEL, text=text, metadata=_metadata(event_type, key), thread_ts=thread_ts
    )
    return str(answer["ts"])


def test_final_passes_on_one_succeeded_message_with_one_reply_and_unique_agrees() -> None:
    with SlackStandIn() as standin:
        parent = _post(standin, "Adding compute nodes: Succeeded · 4/4", "ehpc_task", KEY)
        _post(standin, "finished: Succeeded", "ehpc_task_reply", KEY, thread_ts=parent)
        final = _probe("final", standin.base_url, CHANNEL, KEY, "5")
        unique = _probe("unique", standin.base_url, CHANNEL)
    assert final.returncode == 0, final.stderr
    assert "one reply" in final.stdout
    assert unique.returncode == 0, unique.stderr


def test_final_fails_while_the_task_is_not_shown_as_succeeded() -> None:
    with SlackStandIn() as standin:
        _post(standin, "Adding compute nodes: In progress · 2/4", "ehpc_task", KEY)
        result = _probe("final", standin.base_url, CHANNEL, KEY, "1")
    assert result.returncode == 1
    assert "not shown as Succeeded" in result.stderr


def test_a_task_posted_twice_fails_both_final_and_unique() -> None:
    with SlackStandIn() as standin:
        for _ in range(2):
            _post(standin, "Adding compute nodes: Succeeded · 4/4", "ehpc_task", KEY)
        final = _probe("final", standin.base_url, CHANNEL, KEY, "1")
        unique = _probe("unique", standin.base_url, CHANNEL)
    assert final.returncode == 1
    assert "2 messages" in final.stderr
    assert unique.returncode == 1
    assert KEY in unique.stderr


def test_page_passes_once_the_standin_page_draws_the_task() -> None:
    with SlackStandIn() as standin:
        _post(standin, "Adding compute nodes: In progress · task T-1", "ehpc_task", KEY)
        result = _probe("page", standin.page_url, CHANNEL, KEY)
    assert result.returncode == 0, result.stderr


def test_page_fails_when_the_task_is_not_on_the_page() -> None:
    with SlackStandIn() as standin:
        _post(standin, "Adding compute nodes: In progress · task T-1", "ehpc_task", KEY)
        result = _probe("page", standin.page_url, CHANNEL, "ehpc-hz-demo0003/T-2")
    assert result.returncode == 1
    assert "T-2" in result.stderr
