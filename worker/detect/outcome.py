"""What one poll did, whichever API it used (:mod:`worker.detect.poll`, :mod:`worker.detect.poll2024`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.base import Transition
from worker.ops import metrics

__all__ = ["PollOutcome"]


@dataclass
class PollOutcome:
    """What one poll did; ``complete`` False: it stopped early and the next poll resumes from there."""

    skipped: bool = False
    transitions: list[Transition] = field(default_factory=list)
    api_calls: int = 0
    complete: bool = False
    bound: metrics.PollBound | None = None
    lost: list[str] = field(default_factory=list)  # tasks closed as LOST by this poll
    gone: bool = False  # the cluster was deleted (and is no longer polled)
    rechecked: int = 0  # tasks put back in the outbox after Redis lost writes
