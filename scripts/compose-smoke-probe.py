#!/usr/bin/env python3
"""What scripts/compose-smoke.sh asks of the running demo stack, over HTTP from the host (stdlib only).

    compose-smoke-probe.py delivered   STANDIN CHANNEL TIMEOUT      # some task's message reached Slack
    compose-smoke-probe.py start-task  SIMULATOR CLUSTER STEPS SECS  # prints the new task's key
    compose-smoke-probe.py shown       STANDIN CHANNEL KEY TIMEOUT   # its message is in the channel
    compose-smoke-probe.py running     SIMULATOR KEY                 # exit 1 unless it is still Processing
    compose-smoke-probe.py final       STANDIN CHANNEL KEY TIMEOUT   # its message shows it succeeded, once
    compose-smoke-probe.py unique      STANDIN CHANNEL               # no task has two messages
    compose-smoke-probe.py page        PAGE CHANNEL KEY              # the stand-in's page shows the task

STANDIN is the Slack stand-in's Web API base (http://127.0.0.1:PORT/api/), SIMULATOR the simulator's
base URL. The stand-in is read with the Web API itself (conversations.history / .replies with
include_all_metadata), as the bridge reads Slack; a message belongs to a task by the metadata the bridge
puts on it (event_payload.task_key). Waits poll every half second until TIMEOUT seconds; a failure prints
what was seen and exits 1.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

TOKEN = "xoxb-compose-smoke"  # the stand-in accepts any xoxb- token
PARENT_EVENT = "ehpc_task"
REPLY_EVENT = "ehpc_task_reply"


class ProbeError(Exception):
    """What the stack showed did not match what the smoke test expects."""


def _call(url: str, *, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback URLs only
        return json.load(answer)


def _slack(standin: str, method: str, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = _call(urllib.parse.urljoin(standin, method), body=params, token=TOKEN)
    if not answer.get("ok"):
        raise ProbeError(f"{method}: {answer.get('error')}")
    return answer


def _key(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") not in (PARENT_EVENT, REPLY_EVENT):
        return None
    key = (metadata.get("event_payload") or {}).get("task_key")
    return str(key) if key else None


def _parents(standin: str, channel: str) -> list[dict[str, Any]]:
    messages = _slack(
        standin, "conversations.history", channel=channel, limit=999, include_all_metadata=True
    )["messages"]
    return [m for m in messages if (m.get("metadata") or {}).get("event_type") == PARENT_EVENT]


def _replies(standin: str, channel: str, parent: dict[str, Any]) -> list[dict[str, Any]]:
    thread = _slack(
        standin, "conversations.replies", channel=channel, ts=parent["ts"], include_all_metadata=True
    )["messages"]
    return [m for m in thread if m["ts"] != parent["ts"]]


def _wait(timeout: float, what: str, check: Callable[[], str | None]) -> str:
    """Poll ``check`` until it returns a description; the last ProbeError is the failure message."""
    deadline = time.monotonic() + timeout
    last = "nothing yet"
    while True:
        try:
            found = check()
        except (ProbeError, OSError, ValueError) as error:
            found, last = None, str(error)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise ProbeError(f"{what}: not seen within {timeout:.0f}s ({last})")
        time.sleep(0.5)


def delivered(standin: str, channel: str, timeout: str) -> str:
    def check() -> str | None:
        parents = _parents(standin, channel)
        if not parents:
            raise ProbeError(f"no task message in {channel} yet")
        return f"{len(parents)} task message(s) in {channel}, e.g. {parents[-1]['text']!r}"

    return _wait(float(timeout), "a task's message", check)


def start_task(simulator: str, cluster: str, steps: str, seconds: str) -> str:
    body = {
        "cluster_id": cluster,
        "task_type": "AddComputes",
        "total_steps": int(steps),
        "step_seconds": float(seconds),
        "nodes": 2,
    }
    task_id = _call(urllib.parse.urljoin(simulator, "/_admin/tasks"), body=body)["task_id"]
    return f"{cluster}/{task_id}"


def _task_parents(standin: str, channel: str, key: str) -> list[dict[str, Any]]:
    return [m for m in _parents(standin, channel) if _key(m) == key]


def shown(standin: str, channel: str, key: str, timeout: str) -> str:
    def check() -> str | None:
        parents = _task_parents(standin, channel, key)
        if not parents:
            raise ProbeError(f"no message of {key} yet")
        return f"{key}: {parents[0]['text']!r}"

    return _wait(float(timeout), f"the message of {key}", check)


def running(simulator: str, key: str) -> str:
    cluster, _, task_id = key.partition("/")
    state = _call(urllib.parse.urljoin(simulator, "/_admin/state"))
    for entry in state["clusters"]:
        for task in entry["tasks"] if entry["cluster_id"] == cluster else ():
            if task["TaskId"] == task_id:
                if task["Status"] != "Processing":
                    raise ProbeError(f"{key} is {task['Status']} already: the restart did not overlap it")
                return f"{key}: still Processing in the simulator"
    raise ProbeError(f"{key}: no such task in the simulator")


def final(standin: str, channel: str, key: str, timeout: str) -> str:
    def check() -> str | None:
        parents = _task_parents(standin, channel, key)
        if len(parents) > 1:
            raise SystemExit(f"FAIL {key}: {len(parents)} messages, expected one")
        if not parents or "Succeeded" not in parents[0]["text"]:
            shown = parents[0]["text"] if parents else "no message"
            raise ProbeError(f"{key} not shown as Succeeded yet: {shown!r}")
        replies = [r for r in _replies(standin, channel, parents[0]) if _key(r) == key]
        if len(replies) != 1:
            raise ProbeError(f"{key}: {len(replies)} thread replies, expected the one final reply")
        return f"{key}: one message {parents[0]['text']!r}, one reply {replies[0]['text']!r}"

    return _wait(float(timeout), f"the final status of {key}", check)


def unique(standin: str, channel: str) -> str:
    counts = Counter(_key(m) for m in _parents(standin, channel))
    twice = sorted(key for key, count in counts.items() if key and count > 1)
    if twice:
        raise ProbeError(f"tasks with more than one message: {', '.join(twice)}")
    return f"{len(counts)} tasks, one message each"


def page(url: str, channel: str, key: str) -> str:
    """The stand-in's web page (what a person opens) draws the channel and the task's message."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback URLs only
        document = answer.read().decode()
    task_id = key.partition("/")[2]
    missing = [text for text in (f"# {channel}", task_id) if text not in document]
    if missing:
        raise ProbeError(f"the page at {url} does not show {', '.join(missing)}")
    return f"the page at {url} shows # {channel} and task {task_id} ({len(document)} bytes)"


COMMANDS: dict[str, Callable[..., str]] = {
    "delivered": delivered,
    "start-task": start_task,
    "shown": shown,
    "running": running,
    "final": final,
    "unique": unique,
    "page": page,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 64
    try:
        print(COMMANDS[argv[0]](*argv[1:]), flush=True)
    except ProbeError as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
