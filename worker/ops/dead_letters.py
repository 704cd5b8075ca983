"""``ehpc-bridge dead-letters [--retry ID | --retry-all] [--limit N]``: what was given up on; try again.

Lists the newest dead letters (id, when, destination, the task and what happened to it, the error); with
``--retry ID`` sends that transition again through its destination's notifier (idempotent by the
transition's fingerprint, so a retry of something that did arrive changes nothing) and forgets it once
delivered. A retry that fails again keeps the dead letter and says why; the exit status is 1 then.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

from integrations.base import DeliveryError
from worker.deliver.dead_letters import DeadLetter
from worker.runtime import Runtime, runtime

__all__ = ["run_dead_letters"]


def run_dead_letters(argv: Sequence[str]) -> int:
    """The ``dead-letters`` subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="ehpc-bridge dead-letters",
        description="List what was given up on (newest first), or send it again.",
    )
    parser.add_argument("--retry", metavar="ID", help="send this dead letter again")
    parser.add_argument("--retry-all", action="store_true", help="send every listed dead letter again")
    parser.add_argument("--limit", type=int, default=100, help="how many to list, newest first (default 100)")
    args = parser.parse_args(list(argv))
    rt = runtime()
    if args.retry:
        letter = rt.dead_letters.get(args.retry)
        if letter is None:
            print(f"no dead letter {args.retry}")
            return 1
        return 0 if _retry(rt, letter) else 1
    letters = rt.dead_letters.list(count=args.limit)
    if args.retry_all:
        return 0 if all([_retry(rt, letter) for letter in letters]) else 1
    print(f"{rt.dead_letters.size()} dead letter(s); newest first")
    for letter in letters:
        print(_line(letter))
    return 0


def _line(letter: DeadLetter) -> str:
    task = letter.transition.task
    what = f"{letter.transition.kind.value} {task.status.value}"
    where = f"{letter.destination}  {letter.transition.task_key}"
    return f"{letter.entry_id}  {letter.at}  {where}  {what}  {letter.error}"


def _retry(rt: Runtime, letter: DeadLetter) -> bool:
    transition = letter.transition
    notifier = rt.notifier(target_name=letter.destination, cluster_id=transition.task.cluster_id)
    try:
        notifier.send(transition)
    except DeliveryError as error:
        print(f"{letter.entry_id}: still failing, kept: {error}")
        return False
    rt.dead_letters.remove(letter.entry_id)
    print(
        f"{letter.entry_id}: delivered to {letter.destination} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    return True
