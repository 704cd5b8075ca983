"""ehpc-bridge: one command, one subcommand per process type or operator chore.

Each subcommand imports what it needs when it runs, so ``ehpc-bridge simulator`` works without a broker
and ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]


def _worker(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.processes import run_worker

    return run_worker(queues=args.queues, concurrency=args.concurrency, extra=rest)


def _beat(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.processes import run_beat

    return run_beat(extra=rest)


def _simulator(args: argparse.Namespace, rest: list[str]) -> int:
    from integrations.ehpc.simulator import run_simulator_cli

    return run_simulator_cli(rest)


def _slack_standin(args: argparse.Namespace, rest: list[str]) -> int:
    from integrations.slack.standin.cli import run_standin_cli

    return run_standin_cli(rest)


def _slack_app(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.slack_app.cli import run_slack_app

    return run_slack_app(rest)


def _check(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.check import run_check

    return run_check()


def _poll_once(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.processes import run_poll_once

    return run_poll_once(cluster_id=args.cluster)


def _demo(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.demo import run_demo

    return run_demo(duration=args.duration, speed=args.speed)


def _dead_letters(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.ops.dead_letters import run_dead_letters

    return run_dead_letters(rest)


def _routes(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.routing import run_routes_cli

    return run_routes_cli(rest)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehpc-bridge",
        description="Tells HPC operators in Slack and their ticketing tools what their E-HPC clusters do.",
        epilog="'ehpc-bridge COMMAND --help' shows a command's own options.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, tuple[str, Callable[[argparse.Namespace, list[str]], int]]] = {
        "worker": ("run a Celery worker (poll and deliver queues)", _worker),
        "beat": ("run the Celery beat scheduler (exactly one per deployment)", _beat),
        "simulator": ("run the built-in E-HPC simulator (flags: see 'simulator --help')", _simulator),
        "slack-app": ("serve the /ehpc slash command and buttons", _slack_app),
        "slack-standin": ("serve a local Slack Web API and a live page of it (demo)", _slack_standin),
        "check": ("validate configuration, call ListTasks per cluster and Slack auth.test", _check),
        "poll-once": ("print the transitions one poll of CLUSTER would send; sends nothing", _poll_once),
        "demo": ("simulator + worker + beat, notifications on a live page and in the terminal", _demo),
        "routes": ("routing table tools: 'routes test --cluster X --type T --status S'", _routes),
        "dead-letters": ("list what was given up on; '--retry ID' sends one again", _dead_letters),
    }
    for name, (help_text, handler) in commands.items():
        command = sub.add_parser(name, help=help_text, add_help=name not in _PASSTHROUGH)
        command.set_defaults(handler=handler)
    worker = sub.choices["worker"]
    worker.add_argument("--queues", default="poll,deliver", help="comma-separated queues (default: all)")
    worker.add_argument("--concurrency", type=int, default=4, help="threads (default 4)")
    sub.choices["poll-once"].add_argument("cluster", help="ClusterId to poll")
    demo = sub.choices["demo"]
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    return parser


# These hand their remaining arguments (including --help) to their own parser.
_PASSTHROUGH = frozenset({"dead-letters", "simulator", "slack-app", "slack-standin", "routes"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ehpc-bridge`` console script."""
    args, rest = _parser().parse_known_args(argv)
    if rest and args.command not in _PASSTHROUGH | {"worker", "beat"}:
        _parser().error(f"unrecognized arguments: {' '.join(rest)}")
    handler: Callable[[argparse.Namespace, list[str]], int] = args.handler
    from worker.ops.processes import StartupError

    try:
        return handler(args, rest)
    except StartupError as error:
        print(f"ehpc-bridge {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
