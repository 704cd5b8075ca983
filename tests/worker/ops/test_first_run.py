"""A first run explains itself: ``check`` with nothing set, ``--help``, and a second worker on one host.

Each runs ``ehpc-bridge`` as a new user would, in a subprocess with an environment holding nothing of
ours (no cluster, credentials, token or channel): what it prints is what they read.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.slack.standin import SlackStandIn
from tests.fixtures.environment import REDIS_URL
from worker.ops.cli import _PASSTHROUGH, _parser, main

CLI = [sys.executable, "-m", "worker.ops.cli"]


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What a fresh shell has: PATH and HOME (empty), the test Redis, and the metadata service disabled.

    The credential chain would otherwise ask the ECS metadata address, which no test may reach.
    """
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "REDIS_URL": REDIS_URL,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        **extra,
    }


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def slack_api() -> Iterator[str]:
    with SlackStandIn() as standin:
        yield standin.base_url


def test_check_with_nothing_set_says_what_to_set_one_line_each(home: Path) -> None:
    result = _run("check", env=_bare_env(home))

    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert result.returncode == 1
    assert result.stderr == ""
    assert len(failed) == 4
    for line, variable in zip(
        failed,
        ["EHPC_CLUSTERS", "ALIBABA_CLOUD_ACCESS_KEY_ID", "SLACK_BOT_TOKEN", "SLACK_CHANNEL"],
        strict=True,
    ):
        assert variable in line
    assert "KeyError" not in result.stdout


def test_check_with_a_cluster_but_no_credentials_has_one_line_for_it_and_no_traceback(
    home: Path, slack_api: str
) -> None:
    env = _bare_env(
        home,
        EHPC_CLUSTERS="ehpc-hz-first001",
        SLACK_BOT_TOKEN="xoxb-first-run",
        SLACK_CHANNEL="C0FIRST",
        SLACK_API_URL=slack_api,
    )

    result = _run("check", env=env)

    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["PASS", "redis"],
        ["FAIL", "credentials"],
        ["PASS", "target"],
        ["PASS", "target"],  # the channel's history is readable
    ]
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in lines[1]
    assert lines[-1] == "3 passed, 1 failed"


def test_a_bad_setting_is_one_line_naming_the_variable(home: Path) -> None:
    result = _run("check", env=_bare_env(home, EHPC_POLL_INTERVAL="soon"))

    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("FAIL  configuration  EHPC_POLL_INTERVAL: Input should be a valid number")


def test_every_help_reads_as_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = [[], *([name] for name in subcommands.choices)]
    assert len(commands) > 8
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        shown = capsys.readouterr().out
        assert "usage: ehpc-bridge" in shown, command
        for markup in ("``", ":class:", ":func:", ":mod:"):
            assert markup not in shown, (command, markup)
    assert {name for [name] in commands[1:]} >= _PASSTHROUGH


def test_a_second_worker_whose_metrics_port_is_taken_says_so_in_one_line(home: Path) -> None:
    with socket.socket() as first_worker:  # holds the port as a running worker would
        first_worker.bind(("0.0.0.0", 0))  # noqa: S104 - where the health server binds
        first_worker.listen()
        port = first_worker.getsockname()[1]
        result = _run("worker", env=_bare_env(home, EHPC_METRICS_PORT=str(port)))

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ehpc-bridge worker: port {port} (EHPC_METRICS_PORT")
    assert "EHPC_METRICS_PORT=0" in line
