"""docker-compose.yml against the Compose specification schema, and the requirements of the deployment.

No Docker engine runs here: the file is validated with jsonschema against the published schema, before
and after interpolation with .env.example, and its structure is asserted rule by rule.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft7Validator

from tests.deploy.compose import ROOT, interpolate, load_compose, read_env_file, variables
from tests.fixtures.contracts import CONTRACTS
from worker.config.settings import Settings

APP_SERVICES = ("worker-poll", "worker-deliver", "beat", "slack-app")
# Names that hold credentials; in the compose file they may only appear as NAME_FILE=/run/secrets/….
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|BASIC_AUTH|ACCESS_KEY")
# What real credentials look like: Slack tokens (a digit follows the prefix: xoxb-123…-…, xapp-1-…; the
# demo's stand-in token is xoxb-demo-…), Alibaba AccessKey IDs, URLs with a password.
SECRET_VALUE = re.compile(r"xox[abpr]-\d|xapp-\d|LTAI[0-9A-Za-z]{8,}|://[^/\s:@]*:[^/\s@]+@")


@cache
def _validator() -> Draft7Validator:
    schema = json.loads((CONTRACTS / "compose" / "compose-spec.json").read_text(encoding="utf-8"))
    return Draft7Validator(schema)


@cache
def _compose() -> dict[str, Any]:
    return load_compose()


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def _errors(document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    assert _errors(_compose()) == []


def test_compose_file_stays_valid_once_interpolated_with_the_example_env() -> None:
    assert _errors(interpolate(_compose(), read_env_file())) == []


def test_existing_redis_override_is_valid_and_switches_the_bundled_redis_off() -> None:
    override = load_compose(ROOT / "deploy" / "compose.existing-redis.yml")
    assert _errors(override) == []
    assert override["services"]["redis"]["profiles"] == ["bundled-redis"]
    for name in APP_SERVICES:
        assert _services()[name]["depends_on"]["redis"] == {"condition": "service_healthy", "required": False}


def test_redis_persists_with_aof_every_second_and_never_evicts() -> None:
    redis = _services()["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in _compose()["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_service_has_a_healthcheck_and_a_restart_policy() -> None:
    for name, service in _services().items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service["restart"] == "unless-stopped", name


def test_workers_consume_separate_queues_and_can_be_scaled() -> None:
    assert _services()["worker-poll"]["command"] == ["ehpc-bridge", "worker", "--queues", "poll"]
    assert _services()["worker-deliver"]["command"] == ["ehpc-bridge", "worker", "--queues", "deliver"]
    for name in ("worker-poll", "worker-deliver"):
        service = _services()[name]
        # --scale needs no fixed container name and no fixed host port.
        assert "container_name" not in service
        assert "ports" not in service


def test_exactly_one_service_runs_beat_with_one_replica() -> None:
    beats = [name for name, service in _services().items() if service["command"][1:2] == ["beat"]]
    assert beats == ["beat"]
    assert _services()["beat"]["deploy"]["replicas"] == 1


def test_app_services_wait_for_a_healthy_redis_and_run_in_the_default_profile() -> None:
    for name in APP_SERVICES:
        service = _services()[name]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "profiles" not in service, name


def test_flower_is_in_the_ops_profile_and_the_simulator_in_the_demo_profile() -> None:
    assert _services()["flower"]["profiles"] == ["ops"]
    simulator = _services()["simulator"]
    assert simulator["profiles"] == ["demo"]
    # Inside its container the simulator must listen on every interface for the others to reach it.
    assert simulator["command"][:6] == ["ehpc-bridge", "simulator", "--host", "0.0.0.0", "--port", "8080"]  # noqa: S104
    assert simulator["command"][6:] == ["--speed", "${EHPC_SIMULATOR_SPEED:-1}"]
    assert simulator["ports"] == ["127.0.0.1:${EHPC_SIMULATOR_PORT:-8080}:8080"]
    assert read_env_file()["EHPC_ENDPOINT"] == "http://simulator:8080"
    optional_and_healthy = {"condition": "service_healthy", "required": False}
    for name in APP_SERVICES:
        assert _services()[name]["depends_on"]["simulator"] == optional_and_healthy


def test_the_demo_profile_delivers_to_the_slack_standin_service() -> None:
    standin = _services()["slack-standin"]
    assert standin["profiles"] == ["demo"]
    assert standin["command"] == [
        "ehpc-bridge",
        "slack-standin",
        "--host",
        "0.0.0.0",  # noqa: S104 - reached by the other containers
        "--port",
        "8070",
        "--print",
    ]
    assert "/healthz" in " ".join(standin["healthcheck"]["test"])
    assert standin["ports"] == ["127.0.0.1:${SLACK_STANDIN_PORT:-8070}:8070"]
    assert (standin["secrets"], standin["depends_on"]) == ([], {})
    env = read_env_file()
    assert env["SLACK_API_URL"] == "http://slack-standin:8070/api/"
    # The stand-in takes any xoxb- token; the slack-app needs some signing secret to start.
    assert env["SLACK_BOT_TOKEN"].startswith("xoxb-demo")
    assert env["SLACK_CHANNEL"]
    assert env["SLACK_SIGNING_SECRET"]
    for name in APP_SERVICES:
        assert _services()[name]["depends_on"]["slack-standin"] == {
            "condition": "service_healthy",
            "required": False,
        }


def test_slack_app_serves_http_and_can_use_socket_mode() -> None:
    slack_app = _services()["slack-app"]
    assert slack_app["command"] == ["ehpc-bridge", "slack-app", "--port", "3000"]
    assert slack_app["ports"] == ["${SLACK_APP_PORT:-3000}:3000"]
    assert slack_app["environment"]["SLACK_APP_TOKEN_FILE"] == "/run/secrets/slack_app_token"


def test_no_secret_is_inline_every_one_is_a_compose_secret_file() -> None:
    declared = _compose()["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"environment"}, f"secret {name} must come from .env, not the compose file"
    for name, service in _services().items():
        mounted = {entry["source"]: entry for entry in service.get("secrets", [])}
        for entry in mounted.values():
            # Engines 20.10 and 26.1 refuse uid/gid on a secret: root-owned, readable by the app user.
            assert entry == {"source": entry["source"], "mode": 0o444}, f"{name}: {entry}"
        for key, value in service.get("environment", {}).items():
            assert not SECRET_VALUE.search(str(value)), f"{name}: {key} looks like an inline credential"
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE"), f"{name}: {key} must be given as {key}_FILE"
                secret = str(value).removeprefix("/run/secrets/")
                assert secret in mounted, f"{name}: {key} names a secret the service does not mount"
    raw = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert not SECRET_VALUE.search(raw)


def test_external_network_and_existing_redis_are_options_of_the_env_file() -> None:
    network = _compose()["networks"]["default"]
    assert network == {"name": "${EHPC_NETWORK:-ehpc-bridge}", "external": "${EHPC_NETWORK_EXTERNAL:-false}"}
    assert _services()["worker-poll"]["environment"]["REDIS_URL"] == "${REDIS_URL:-redis://redis:6379/0}"


def test_env_example_documents_every_variable_compose_and_settings_read() -> None:
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    settings_names = {field.alias for field in Settings.model_fields.values() if field.alias}
    names = variables() | settings_names
    missing = sorted(name for name in names if not re.search(rf"\b{name}=", documented))
    assert missing == [], "document these in .env.example"


def test_env_example_holds_no_real_credential() -> None:
    for key, value in read_env_file().items():
        assert not SECRET_VALUE.search(value), key


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.mark.parametrize("line", ["USER 10001:10001", "HEALTHCHECK ", 'ENTRYPOINT ["docker-entrypoint.sh"]'])
def test_dockerfile_final_stage_has(line: str) -> None:
    final_stage = _dockerfile().split("\nFROM ")[-1]
    assert line in final_stage


def test_dockerfile_is_multi_stage_from_the_lock_without_build_tools_in_the_final_stage() -> None:
    stages = _dockerfile().split("\nFROM ")
    assert len(stages) == 3  # the preamble, build, final
    assert "--constraint requirements.lock" in stages[1]
    assert "COPY --from=build /opt/venv /opt/venv" in stages[2]
    assert not re.search(r"apt-get|gcc|build-essential|pip install", stages[2])


def test_dockerfile_builds_with_the_legacy_builder_and_offline() -> None:
    instructions = [line for line in _dockerfile().splitlines() if line and not line.startswith("#")]
    # A `# syntax=` directive makes BuildKit fetch its frontend from a registry.
    assert not any(re.match(r"#\s*syntax\s*=", line) for line in _dockerfile().splitlines())
    # BuildKit-only flags the legacy builder rejects.
    assert not [line for line in instructions if re.search(r"--(chmod|mount|link|parents|exclude)\b", line)]
    # COPY keeps the mode: the entrypoint must be executable in the checkout (git mode 100755).
    assert os.access(ROOT / "deploy" / "docker-entrypoint.sh", os.X_OK)


def test_base_images_are_build_arguments_compose_passes_from_the_env_file() -> None:
    dockerfile = _dockerfile()
    preamble = dockerfile.split("\nFROM ")[0]
    assert "\nARG PYTHON_IMAGE=python:3.11-slim" in preamble
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == [
        "${PYTHON_IMAGE}",
        "${PYTHON_IMAGE}",
    ]
    assert "ARG PIP_INDEX_URL=" in dockerfile
    build = _services()["worker-poll"]["build"]
    assert build["args"] == {
        "PYTHON_IMAGE": "${EHPC_PYTHON_IMAGE:-python:3.11-slim}",
        "PIP_INDEX_URL": "${PIP_INDEX_URL:-}",
    }
    assert _services()["redis"]["image"] == "${EHPC_REDIS_IMAGE:-redis:7.4-alpine}"
    env = read_env_file()
    assert (env["EHPC_PYTHON_IMAGE"], env["EHPC_REDIS_IMAGE"]) == ("python:3.11-slim", "redis:7.4-alpine")


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert lines[lines.index("*") + 1 :][:6] == [
        "!requirements.lock",
        "!pyproject.toml",
        "!README.md",
        "!worker/",
        "!integrations/",
        "!deploy/docker-entrypoint.sh",
    ]
