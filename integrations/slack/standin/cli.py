"""``ehpc-bridge slack-standin``: the Slack stand-in as a service, until SIGINT/SIGTERM.

What the demo profile of docker-compose runs (``--host 0.0.0.0``): point ``SLACK_API_URL`` at
``http://HOST:PORT/api/`` with any ``xoxb-`` token, open ``http://HOST:PORT/`` to watch the channels, and
let a healthcheck ask ``/healthz``.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from types import FrameType

from integrations.slack.standin.server import SlackStandIn

__all__ = ["DEFAULT_PORT", "run_standin_cli"]

DEFAULT_PORT = 8070


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehpc-bridge slack-standin",
        description="Serve a stand-in Slack Web API and a live web page of the messages it receives.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to bind (default {DEFAULT_PORT}; 0 picks one)"
    )
    parser.add_argument(
        "--channel",
        action="append",
        help="accept only this channel (repeatable; default: any channel, created on first post)",
    )
    parser.add_argument("--print", action="store_true", help="also print every post and edit here")
    parser.add_argument(
        "--max-messages", type=int, default=1000, help="top-level messages kept per channel (default 1000)"
    )
    return parser


def run_standin_cli(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve until SIGINT/SIGTERM; returns the exit status."""
    args = _parser().parse_args(argv)
    standin = SlackStandIn(
        host=args.host,
        port=args.port,
        channels=args.channel,
        printer=(lambda text: print(text, flush=True)) if args.print else None,
        max_messages=args.max_messages,
    )
    try:
        standin.start()
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        why = "is taken" if taken else f"can't be used ({exc.strerror})"
        print(f"slack-standin: {args.host}:{args.port} {why}: choose another with --port", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"Slack stand-in: Web API {standin.base_url} · page {standin.page_url}", flush=True)
        stop.wait()
    finally:
        standin.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
