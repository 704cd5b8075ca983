"""What the image runs besides the app: the secret-file entrypoint and the HEALTHCHECK one-liners."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.compose import ROOT, load_compose
from tests.fixtures.environment import REDIS_URL
from worker.ops.health import serve_health

ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"


def _entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def _printed(env: dict[str, str], name: str) -> str:
    result = _entrypoint(env, "sh", "-c", f'printf "%s" "${{{name}-unset}}"')
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_entrypoint_sets_each_variable_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("xoxb-from-file\n")
    assert _printed({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "token")}, "SLACK_BOT_TOKEN") == "xoxb-from-file"


def test_entrypoint_leaves_an_empty_secret_unset_and_drops_its_file_variable(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("")
    env = {"SLACK_APP_TOKEN_FILE": str(tmp_path / "empty")}
    assert _printed(env, "SLACK_APP_TOKEN") == "unset"
    assert _printed(env, "SLACK_APP_TOKEN_FILE") == "unset"


def test_entrypoint_keeps_a_variable_already_set(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file")
    env = {"SLACK_BOT_TOKEN": "from-env", "SLACK_BOT_TOKEN_FILE": str(tmp_path / "token")}
    assert _printed(env, "SLACK_BOT_TOKEN") == "from-env"


def test_entrypoint_treats_a_missing_secret_file_as_an_unset_secret(tmp_path: Path) -> None:
    # Compose 2.40 writes no file at all for a secret whose environment variable is empty.
    env = {"SLACK_APP_TOKEN_FILE": str(tmp_path / "absent")}
    assert _printed(env, "SLACK_APP_TOKEN") == "unset"
    assert _printed(env, "SLACK_APP_TOKEN_FILE") == "unset"


def test_entrypoint_refuses_a_secret_it_cannot_read_without_printing_any_value(tmp_path: Path) -> None:
    # A directory where the file should be: what a mount gone wrong leaves (and unreadable even as root).
    (tmp_path / "token").mkdir()
    env = {"SLACK_BOT_TOKEN_FILE": str(tmp_path / "token"), "OTHER": "xoxb-must-not-appear"}
    result = _entrypoint(env, "true")
    assert result.returncode == 64
    assert "SLACK_BOT_TOKEN_FILE" in result.stderr
    assert "xoxb" not in result.stderr + result.stdout


def _healthchecks() -> dict[str, list[str]]:
    """Every python HEALTHCHECK of the app's /healthz: the Dockerfile's and each compose service's."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r'CMD \["python", "-c", "(.+)"\]\n', dockerfile)
    assert found is not None
    checks = {"Dockerfile": ["python", "-c", found.group(1)]}
    for name, service in load_compose()["services"].items():
        test = service["healthcheck"]["test"]
        if "/healthz" in " ".join(test) and "EHPC_METRICS_PORT" in " ".join(test):
            checks[name] = test[1:]
    return checks


@pytest.mark.parametrize(("redis_url", "healthy"), [(REDIS_URL, True), ("redis://127.0.0.1:1/0", False)])
def test_healthcheck_one_liners_pass_only_while_healthz_is_200(redis_url: str, healthy: bool) -> None:
    with serve_health(port=0, host="127.0.0.1", redis_url=redis_url, broker_url=REDIS_URL) as server:
        for name, command in _healthchecks().items():
            result = subprocess.run(
                [sys.executable, *command[1:]],
                env={"EHPC_METRICS_PORT": str(server.port)},
                capture_output=True,
                timeout=10,
                check=False,
            )
            assert (result.returncode == 0) is healthy, name
