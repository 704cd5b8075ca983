"""Where a transition goes: the ordered routes of the config, walked like Alertmanager's routing tree.

Routes are tried in file order. A route matches when every condition it gives holds (an absent or empty
condition matches anything; a list matches any of its values; ``labels`` must all be equal). A matching
route adds its targets and stops the walk unless it says ``continue: true``. When no route matched, the
``default_targets`` apply. The result is ordered by first mention and has no duplicates.

Pure: no I/O here except in :func:`run_routes_cli`, the ``ehpc-bridge routes …`` command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from integrations.base import Transition, TransitionKind
from integrations.ehpc.schema import RawTask
from integrations.ehpc.task import TaskStatus, TaskType, normalize
from worker.config.models import BridgeConfig, ClusterConfig, ConfigError, Route, RouteMatch, load_config
from worker.detect.diff import task_key_of

__all__ = [
    "RouteStep",
    "cluster_targets",
    "describe_match",
    "explain",
    "matches",
    "probe",
    "route",
    "routing_table",
    "run_routes_cli",
]


@dataclass(frozen=True)
class RouteStep:
    """One line of an explanation: a route (``index`` None for the default) and what it did."""

    index: int | None
    match: str
    targets: tuple[str, ...]
    outcome: str  # "matched, continue" | "matched, stop" | "no match" | "not reached" | "used" | "not used"


def matches(match: RouteMatch, transition: Transition) -> bool:
    """True when ``transition`` meets every condition of ``match``."""
    task = transition.task
    return (
        (not match.clusters or task.cluster_id in match.clusters)
        and all(transition.cluster_labels.get(name) == value for name, value in match.labels.items())
        and (not match.task_types or task.task_type in match.task_types)
        and (not match.statuses or task.status in match.statuses)
        and (not match.kinds or transition.kind in match.kinds)
    )


def route(transition: Transition, config: BridgeConfig) -> list[str]:
    """The target names ``transition`` is delivered to, in order, each once."""
    taken = [rule.targets for rule, outcome in _walk(transition, config) if outcome.startswith("matched")]
    if not taken:
        return _dedup(config.default_targets)
    return _dedup(name for targets in taken for name in targets)


def cluster_targets(cluster: ClusterConfig, config: BridgeConfig) -> list[str]:
    """Every target that some transition of ``cluster`` may be routed to, in order, each once.

    The walk of :func:`route` with only the cluster known: a route whose cluster and label conditions
    hold may take some of its transitions; one with no other condition takes all of them (and, unless it
    continues, nothing after it is reached); ``default_targets`` count unless such a route always matches.
    """
    found: list[str] = []
    always_matched = False
    for rule in config.routes:
        match = rule.match
        if match.clusters and cluster.id not in match.clusters:
            continue
        if any(cluster.labels.get(name) != value for name, value in match.labels.items()):
            continue
        found.extend(rule.targets)
        if not (match.task_types or match.statuses or match.kinds):
            always_matched = True
            if not rule.continue_:
                break
    if not always_matched:
        found.extend(config.default_targets)
    return _dedup(found)


def explain(transition: Transition, config: BridgeConfig) -> list[RouteStep]:
    """Every route with what it did for ``transition``, then the default: the routing walk, shown."""
    steps = [
        RouteStep(index, describe_match(rule), rule.targets, outcome)
        for index, (rule, outcome) in enumerate(_walk(transition, config), start=1)
    ]
    matched = any(step.outcome.startswith("matched") for step in steps)
    steps.append(RouteStep(None, "default", config.default_targets, "not used" if matched else "used"))
    return steps


def _walk(transition: Transition, config: BridgeConfig) -> Iterator[tuple[Route, str]]:
    """Each route with its outcome; :func:`route` runs per transition, so nothing is formatted here."""
    stopped = False
    for rule in config.routes:
        outcome = "not reached" if stopped else "no match"
        if not stopped and matches(rule.match, transition):
            stopped = not rule.continue_
            outcome = "matched, stop" if stopped else "matched, continue"
        yield rule, outcome


def describe_match(rule: Route) -> str:
    """The conditions of ``rule`` in one short line (``everything`` when it has none)."""
    match = rule.match
    parts = [
        f"{name}={','.join(values)}"
        for name, values in (
            ("clusters", match.clusters),
            ("task_types", [value.value for value in match.task_types]),
            ("statuses", [value.value for value in match.statuses]),
            ("kinds", [value.value for value in match.kinds]),
        )
        if values
    ]
    parts += [f"labels.{name}={value}" for name, value in match.labels.items()]
    return " ".join(parts) or "everything"


def routing_table(config: BridgeConfig) -> list[str]:
    """The routes and targets as printable lines: what ``ehpc-bridge routes show`` prints."""
    lines = ["Targets:"]
    lines += [f"  {target.name:<20} {target.type}" for target in config.targets]
    lines.append("Routes (first match wins unless 'continue'):")
    for index, rule in enumerate(config.routes, start=1):
        flow = "continue" if rule.continue_ else "stop"
        lines.append(f"  {index:>2}. {describe_match(rule)} -> {', '.join(rule.targets)} ({flow})")
    lines.append(f"  default -> {', '.join(config.default_targets) or '(nowhere)'}")
    return lines


def run_routes_cli(argv: Sequence[str]) -> int:
    """``ehpc-bridge routes {test,show} …``: print where a transition would go; 0 on success, 2 on error."""
    args = _parser().parse_args(list(argv))
    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.action == "show":
        print("\n".join(routing_table(config)))
        return 0
    transition = probe(
        config, cluster_id=args.cluster, task_type=args.type, status=args.status, kind=args.kind
    )
    print("\n".join(_explanation_lines(transition, config)))
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="routing file (default: EHPC_CONFIG)")
    parser = argparse.ArgumentParser(prog="ehpc-bridge routes", description="Inspect the routing rules.")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("show", parents=[common], help="print targets and routes")
    test = sub.add_parser("test", parents=[common], help="print where a transition would be delivered")
    types = [t.value for t in TaskType if t is not TaskType.UNKNOWN]
    test.add_argument("--cluster", required=True, help="cluster id")
    test.add_argument("--type", required=True, choices=types)
    test.add_argument("--status", required=True, choices=[s.value for s in TaskStatus])
    test.add_argument(
        "--kind",
        choices=[k.value for k in TransitionKind],
        help="transition kind (default: finished for a final status, else started)",
    )
    return parser


def _load(path: Path | None) -> BridgeConfig:
    if path is not None:
        return load_config(path)
    from worker.config.clusters import load_bridge_config  # the CLI reads the environment; route() never does
    from worker.config.settings import Settings

    return load_bridge_config(Settings())


def probe(
    config: BridgeConfig, *, cluster_id: str, task_type: str, status: str, kind: str | None
) -> Transition:
    """A made-up transition with the given facts, labelled like the configured cluster."""
    task = normalize(
        RawTask(
            TaskId="routes-test", ClusterId=cluster_id, TaskType=task_type, Status=status, CurrentStep=1,
            TotalSteps=1,
        )
    )  # fmt: skip
    final = task.status.is_final
    cluster = config.cluster(cluster_id)
    now = datetime.now(UTC)
    return Transition(
        kind=TransitionKind(kind) if kind else (TransitionKind.FINISHED if final else TransitionKind.STARTED),
        task=task,
        sequence=1,
        fingerprint="routes-test",
        task_key=task_key_of(cluster_id=cluster_id, task_id=task.task_id),
        cluster_name=cluster.display_name if cluster else cluster_id,
        cluster_labels=dict(cluster.labels) if cluster else {},
        first_seen=now,
        observed_at=now,
    )


def _explanation_lines(transition: Transition, config: BridgeConfig) -> list[str]:
    task = transition.task
    labels = ", ".join(f"{k}={v}" for k, v in transition.cluster_labels.items()) or "no labels"
    lines = [
        f"Transition: cluster {task.cluster_id} ({labels}), {task.task_type.value} "
        f"{task.status.value}, {transition.kind.value}"
    ]
    if config.clusters and config.cluster(task.cluster_id) is None:
        lines.append(f"Note: {task.cluster_id} is not among the configured clusters.")
    lines.append(f"{'#':>3}  {'match':<44} {'targets':<24} result")
    for step in explain(transition, config):
        number = "-" if step.index is None else str(step.index)
        lines.append(f"{number:>3}  {step.match:<44} {', '.join(step.targets) or '-':<24} {step.outcome}")
    chosen = route(transition, config)
    described = [f"{name} ({config.target(name).type})" for name in chosen]
    lines.append(f"Delivers to: {', '.join(described) or 'nowhere'}")
    return lines


def _dedup(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
