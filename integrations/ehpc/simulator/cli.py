"""``ehpc-bridge simulator``: serve the simulator until SIGINT/SIGTERM, printing where and what."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType

import yaml

from integrations.ehpc.simulator.scenario import default_scenario, load_scenario
from integrations.ehpc.simulator.server import SimulatorServer
from integrations.ehpc.simulator.service import Simulator

__all__ = ["run_simulator_cli"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehpc-bridge simulator", description="Serve a stand-in E-HPC ListTasks API for tests and demos."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--scenario", type=Path, help="JSON or YAML scenario file (default: built-in demo)")
    parser.add_argument(
        "--access-key-id", help="AccessKeyId to accept (default: $ALIBABA_CLOUD_ACCESS_KEY_ID)"
    )
    parser.add_argument("--access-key-secret", help="its secret (default: $ALIBABA_CLOUD_ACCESS_KEY_SECRET)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="virtual seconds per wall second (realtime mode; default 1)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="hold every API answer back this long (default 0)"
    )
    return parser


def run_simulator_cli(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve until SIGINT/SIGTERM; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
        server = SimulatorServer(
            simulator=Simulator(
                scenario=scenario, realtime=True, speed=args.speed, latency=args.latency_ms / 1000
            ),
            host=args.host,
            port=args.port,
            access_key_id=args.access_key_id,
            access_key_secret=args.access_key_secret,
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:  # a bad file or no AccessKey: say so, no traceback
        parser.error(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with server:
        print(f"E-HPC simulator listening on {server.endpoint}", flush=True)
        print(f"clusters: {' '.join(server.simulator.cluster_ids)}", flush=True)
        stop.wait()
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return 0
