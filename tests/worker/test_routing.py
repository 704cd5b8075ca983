"""Routing: ordered routes, continue/stop, the default, dedup; and the 'routes' command's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.base import TransitionKind
from integrations.target import SlackTarget
from tests.fixtures.transitions import make_transition
from worker.config.models import BridgeConfig, ClusterConfig, Route, RouteMatch, load_config
from worker.detect.diff import cluster_of, task_key_of
from worker.routing import cluster_targets, explain, probe, route, routing_table, run_routes_cli

TARGETS = tuple(SlackTarget(name=name) for name in ("slack", "pager", "tickets", "audit"))


def config(*routes: Route, default: tuple[str, ...] = ("slack",)) -> BridgeConfig:
    return BridgeConfig(targets=TARGETS, routes=routes, default_targets=default)


def rule(targets: list[str], *, cont: bool = False, **match: object) -> Route:
    return Route.model_validate({"match": match, "targets": targets, "continue": cont})


FAILURES = rule(["pager"], statuses=["Fail", "PartialFail"], cont=True)


@pytest.mark.parametrize(
    ("routes", "transition", "expected"),
    [
        pytest.param((), {}, ["slack"], id="no-routes-default"),
        pytest.param((FAILURES, rule(["slack"])), {}, ["pager", "slack"], id="continue-then-catch-all"),
        pytest.param(
            (FAILURES, rule(["slack"])),
            {"status": "Success"},
            ["slack"],
            id="failure-route-skipped",
        ),
        pytest.param(
            (rule(["pager"], statuses=["Fail"]), rule(["slack"])), {}, ["pager"], id="stop-at-first-match"
        ),
        pytest.param((rule(["pager"], clusters=["other"]),), {}, ["slack"], id="no-match-uses-default"),
        pytest.param((rule(["pager"], labels={"env": "prod"}),), {}, ["pager"], id="label-match"),
        pytest.param((rule(["pager"], labels={"env": "dev"}),), {}, ["slack"], id="label-mismatch"),
        pytest.param(
            (rule(["pager"], labels={"env": "prod", "team": "hpc"}),),
            {},
            ["slack"],
            id="all-labels",
        ),
        pytest.param((rule(["tickets"], task_types=["AddComputes"]),), {}, ["tickets"], id="type-match"),
        pytest.param((rule(["tickets"], task_types=["StopCluster"]),), {}, ["slack"], id="type-mismatch"),
        pytest.param(
            (rule(["audit"], kinds=["started"]),),
            {"status": "Processing", "kind": TransitionKind.STARTED},
            ["audit"],
            id="kind-match",
        ),
        pytest.param(
            (rule(["pager", "slack"], cont=True), rule(["slack", "pager", "audit"])),
            {},
            ["pager", "slack", "audit"],
            id="ordered-and-deduplicated",
        ),
        pytest.param(
            (rule(["pager"], clusters=["ehpc-hz-prod01"], statuses=["Fail"], task_types=["AddComputes"]),),
            {},
            ["pager"],
            id="all-conditions-together",
        ),
    ],
)
def test_route(routes: tuple[Route, ...], transition: dict[str, object], expected: list[str]) -> None:
    assert route(make_transition(**transition), config(*routes)) == expected  # type: ignore[arg-type]


def test_empty_default_routes_nowhere() -> None:
    assert route(make_transition(), config(rule(["pager"], statuses=["Success"]), default=())) == []


def test_explain_shows_every_step() -> None:
    steps = explain(make_transition(), config(FAILURES, rule(["slack"]), rule(["audit"])))
    assert [(step.index, step.outcome) for step in steps] == [
        (1, "matched, continue"),
        (2, "matched, stop"),
        (3, "not reached"),
        (None, "not used"),
    ]


def test_routing_table_lists_targets_and_routes() -> None:
    table = routing_table(config(FAILURES))
    assert "   1. statuses=Fail,PartialFail -> pager (continue)" in table
    assert table[-1] == "  default -> slack"


def test_env_only_config_routes_everything_to_slack() -> None:
    env_config = BridgeConfig.from_env_defaults(cluster_ids=["ehpc-hz-prod01"])
    assert route(make_transition(status="Processing", kind=TransitionKind.STARTED), env_config) == ["slack"]


def test_routes_test_command_prints_the_walk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ehpc.yaml"
    path.write_text(
        "clusters: [{id: c1, labels: {env: prod}}]\n"
        "targets: [{name: pager, type: webhook, url: 'http://127.0.0.1:9/x'}]\n"
        "routes:\n  - {match: {statuses: [Fail], labels: {env: prod}}, targets: [pager], continue: true}\n"
        "  - {targets: [slack]}\n",
        encoding="utf-8",
    )
    argv = ["test", "--config", str(path), "--cluster", "c1", "--type", "AddComputes", "--status", "Fail"]
    assert run_routes_cli(argv) == 0
    out = capsys.readouterr().out
    assert "Transition: cluster c1 (env=prod), AddComputes Fail, finished" in out
    assert out.rstrip().endswith("Delivers to: pager (webhook), slack (slack)")


def test_routes_command_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ehpc.yaml"
    path.write_text("routes: [{targets: [nobody]}]\n", encoding="utf-8")
    assert run_routes_cli(["show", "--config", str(path)]) == 2
    assert f"{path}:1: routes.0.targets.0: unknown target 'nobody'" in capsys.readouterr().err


def test_cluster_labels_in_a_loaded_file_drive_routing(tmp_path: Path) -> None:
    path = tmp_path / "ehpc.yaml"
    path.write_text("routes: [{match: {labels: {env: prod}}, targets: [slack]}]\ndefault_targets: []\n")
    loaded = load_config(path, environ={})
    assert route(make_transition(labels={"env": "prod"}), loaded) == ["slack"]
    assert route(make_transition(labels={"env": "dev"}), loaded) == []


def test_cluster_config_display_name_falls_back_to_id() -> None:
    assert ClusterConfig(id="c9").display_name == "c9"
    assert RouteMatch() == RouteMatch(clusters=(), labels={})


def test_route_without_targets_silences() -> None:
    silence = rule([], kinds=["progressed"])
    transition = make_transition(status="Processing", kind=TransitionKind.PROGRESSED)
    assert route(transition, config(silence, rule(["slack"]))) == []


def test_the_probe_names_its_task_like_every_other_task_key() -> None:
    transition = probe(config(), cluster_id="c1", task_type="AddComputes", status="Fail", kind=None)
    assert transition.task_key == task_key_of(cluster_id="c1", task_id="routes-test")
    assert cluster_of(transition.task_key) == "c1"


def test_routes_show_prints_the_routing_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ehpc.yaml"
    path.write_text("routes:\n  - {match: {statuses: [Fail]}, targets: [slack]}\n", encoding="utf-8")
    assert run_routes_cli(["show", "--config", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == routing_table(load_config(path))


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        pytest.param((), ["slack"], id="no-routes-default"),
        pytest.param((rule(["tickets"], clusters=["c-dev"]),), ["tickets"], id="own-route-stops"),
        pytest.param((rule(["tickets"], clusters=["c-other"]),), ["slack"], id="other-cluster-route"),
        pytest.param((FAILURES,), ["pager", "slack"], id="conditional-route-and-default"),
        pytest.param(
            (rule(["tickets"], labels={"env": "dev"}), rule(["audit"])), ["tickets"], id="label-route-stops"
        ),
        pytest.param(
            (rule(["tickets"], cont=True, labels={"env": "dev"}), rule(["audit"])),
            ["tickets", "audit"],
            id="continue-reaches-the-next",
        ),
        pytest.param((rule([], clusters=["c-dev"]),), [], id="silenced"),
    ],
)
def test_cluster_targets_are_every_target_its_transitions_may_reach(
    routes: tuple[Route, ...], expected: list[str]
) -> None:
    cluster = ClusterConfig(id="c-dev", labels={"env": "dev"})
    assert cluster_targets(cluster, config(*routes)) == expected
