"""The EHPC_CONFIG loader: a valid file becomes typed config; every mistake is named with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from integrations.ehpc.task import TaskStatus
from integrations.opsgenie.notifier import OpsgenieTarget
from integrations.pagerduty.notifier import PagerDutyTarget
from integrations.target import SlackTarget
from worker.config.models import BridgeConfig, ConfigError, load_config

ENV = {"PD_ROUTING_KEY": "pd-secret-value", "OG_KEY": "og-secret-value"}

VALID = """\
clusters:
  - id: ehpc-hz-prod01
    name: prod
    region: cn-hangzhou
    poll_interval: 15
    slack_channel: "#hpc-prod"
    labels: {env: prod}
    announce_running_on_baseline: false
targets:
  - {name: oncall, type: pagerduty, routing_key_env: PD_ROUTING_KEY}
  - {name: ops, type: opsgenie, api_key_env: OG_KEY, api_url: "https://api.eu.opsgenie.com"}
routes:
  - match: {statuses: [Fail, PartialFail], labels: {env: prod}}
    targets: [oncall, ops]
    continue: true
  - targets: [slack]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ehpc.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ=ENV if environ is None else environ)
    return [problem.removeprefix(f"{path}:") for problem in raised.value.problems]


def test_valid_file_loads_into_typed_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ=ENV)
    (cluster,) = config.clusters
    assert (cluster.display_name, cluster.poll_interval, cluster.labels) == ("prod", 15.0, {"env": "prod"})
    assert cluster.announce_running_on_baseline is False
    oncall = config.target("oncall")
    assert isinstance(oncall, PagerDutyTarget)
    assert oncall.routing_key_env.get() == "pd-secret-value"
    assert isinstance(config.target("ops"), OpsgenieTarget)
    assert config.routes[0].match.statuses == (TaskStatus.FAIL, TaskStatus.PARTIAL_FAIL)
    assert config.routes[0].continue_ is True


def test_slack_target_exists_without_being_declared(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ=ENV)
    assert config.target("slack") == SlackTarget(name="slack")


def test_secret_values_never_show_in_the_config_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ=ENV)
    assert "pd-secret-value" not in repr(config)
    assert "pd-secret-value" not in str(config.target("oncall"))


def test_empty_file_sends_everything_to_slack(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.default_targets == ("slack",)
    assert [target.name for target in config.targets] == ["slack"]


def test_env_only_setup_builds_the_same_shape() -> None:
    config = BridgeConfig.from_env_defaults(cluster_ids=["c1", "c2"])
    assert [cluster.id for cluster in config.clusters] == ["c1", "c2"]
    assert config.routes == ()
    assert config.default_targets == ("slack",)
    assert config.target("slack") == SlackTarget(name="slack")


def test_secret_from_a_file_variable(tmp_path: Path) -> None:
    secret = tmp_path / "pd"
    secret.write_text("from-file\n", encoding="utf-8")
    config = load_config(
        write(tmp_path, "targets: [{name: p, type: pagerduty, routing_key_env: PD}]"),
        environ={"PD_FILE": str(secret)},
    )
    assert config.target("p").routing_key_env.get() == "from-file"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "targets:\n  - name: p\n    type: pagerduty\n    routing_key_env: MISSING_VAR\n",
            "4: targets.0.routing_key_env: environment variable MISSING_VAR is not set (or empty)",
            id="missing-secret",
        ),
        pytest.param(
            "targets:\n  - name: p\n    type: pagerduty\n    routing_key: x\n    routing_key_env: OG_KEY\n",
            "4: targets.0.routing_key: unknown field",
            id="inline-secret-refused",
        ),
        pytest.param(
            "clusters:\n  - id: c1\n    pol_interval: 5\n",
            "3: clusters.0.pol_interval: unknown field",
            id="unknown-cluster-field",
        ),
        pytest.param("tagrets: []\n", "1: tagrets: unknown field", id="unknown-top-level-field"),
        pytest.param(
            "targets:\n  - {name: t, type: teams}\n",
            "2: targets.0.type: unknown target type 'teams' (known: ",
            id="unknown-target-type",
        ),
        pytest.param(
            "routes:\n  - targets: [slack]\n  - targets:\n      - slack\n      - pager\n",
            "5: routes.1.targets.1: unknown target 'pager' (known: slack)",
            id="unknown-route-target",
        ),
        pytest.param(
            "default_targets: [nowhere]\n",
            "1: default_targets.0: unknown target 'nowhere' (known: slack)",
            id="unknown-default-target",
        ),
        pytest.param(
            "targets:\n  - {name: a, type: slack}\n  - {name: a, type: slack, channel: x}\n",
            "3: targets.1.name: duplicate target name 'a'",
            id="duplicate-target",
        ),
        pytest.param(
            "clusters:\n  - id: c1\n  - id: c1\n",
            "3: clusters.1.id: duplicate cluster id 'c1'",
            id="duplicate-cluster",
        ),
        pytest.param(
            "clusters: [{id: c1}]\nroutes:\n  - match: {clusters: [c2]}\n    targets: [slack]\n",
            "3: routes.0.match.clusters.0: unknown cluster 'c2'",
            id="unknown-route-cluster",
        ),
        pytest.param(
            "routes:\n  - match:\n      statuses: [Failed]\n    targets: [slack]\n",
            "3: routes.0.match.statuses.0: Input should be 'Processing', 'Success', 'Fail'",
            id="unknown-status",
        ),
        pytest.param(
            "routes:\n  - match: {}\n", "2: routes.0.targets: Field required", id="route-without-targets"
        ),
        pytest.param(
            "clusters:\n  - id: c1\n    id: c2\n", "3: clusters.0.id: duplicate key", id="duplicate-yaml-key"
        ),
        pytest.param("clusters: [\n", "2: not valid YAML", id="bad-yaml"),
        pytest.param(
            "clusters:\n  - id: c1\n    api: 2019-01-01\n",
            "3: clusters.0.api: Input should be '2018-04-12', '2024-07-30' or 'auto'",
            id="unknown-api-version",
        ),
        pytest.param(
            "clusters:\n  - id: c1\n    access:\n      mute_users: [alice]\n",
            "4: clusters.0.access.mute_users.0: String should match pattern",
            id="access-user-not-an-id",
        ),
        pytest.param(
            "access:\n  lookup_groups: [U0NOTAGROUP]\n",
            "2: access.lookup_groups.0: String should match pattern '^S",
            id="access-group-not-a-group-id",
        ),
        pytest.param(
            "clusters:\n  - id: c1\n    access: {mute_user: [U0A]}\n",
            "3: clusters.0.access.mute_user: unknown field",
            id="access-unknown-field",
        ),
        pytest.param(
            "access:\n  channels: ['hpc ops']\n",
            "2: access.channels.0: String should match pattern",
            id="access-channel-with-a-space",
        ),
    ],
)
def test_mistakes_are_reported_with_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(problem.startswith(expected) for problem in found), found


def test_each_cluster_says_its_api_quoted_or_not(tmp_path: Path) -> None:
    text = (
        "clusters:\n  - {id: c1, api: 2024-07-30}\n  - {id: c2, api: '2018-04-12'}\n"
        "  - {id: c3, api: auto}\n  - {id: c4}\n"
    )

    config = load_config(write(tmp_path, text), environ={})

    assert [cluster.api for cluster in config.clusters] == ["2024-07-30", "2018-04-12", "auto", None]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "clusters:\n  - id: c1\n    colour: red\n"
        "targets:\n  - {name: p, type: pagerduty, routing_key_env: NOPE}\n"
        "default_targets: [gone]\n",
        environ={},
    )
    assert [problem.split(":", 1)[0] for problem in found] == ["3", "5", "6"]


def test_error_message_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bogus: 1\n")
    with pytest.raises(ConfigError, match=rf"^{path}: 1 problem:\n  {path}:1: bogus: unknown field$"):
        load_config(path, environ={})


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    environ = {"PD_ROUTING_KEY": "a", "OPSGENIE_API_KEY": "b", "AUDIT_WEBHOOK_SECRET": "c"}
    config = load_config(write(tmp_path, example), environ=environ)
    assert [target.name for target in config.targets] == ["oncall", "ops", "audit", "slack-dev", "slack"]


def test_access_rules_inherit_the_defaults_per_permission(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
            access: {lookup_groups: [S0OPS], mute_users: [U0LEAD], contact: "#hpc-leads"}
            clusters:
              - {id: c1, access: {mute_groups: [S0ONCALL], channels: [C0DEV, "#hpc-dev"]}}
              - {id: c2}
            """,
        ),
        environ=ENV,
    )
    first = config.clusters[0].access.over(config.access)
    assert (first.mute_users, first.mute_groups) == (None, ("S0ONCALL",))  # the pair replaces the defaults'
    assert (first.lookup_users, first.lookup_groups) == (None, ("S0OPS",))
    assert first.channels == ("C0DEV", "#hpc-dev")
    assert first.contact == "#hpc-leads"
    second = config.clusters[1].access.over(config.access)
    assert (second.mute_users, second.channels) == (("U0LEAD",), None)
