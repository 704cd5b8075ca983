"""What one poll did, whichever API it used (:mod:`worker.detect.poll`, :mod:`worker.detect.poll2024`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.base import Transition

__all__ = ["PollOutcome"]


@dataclass
class PollOutcome:
    """What one poll did."""

    skipped: bool = False
    transitions: list[Transition] = field(default_factory=list)
    api_calls: int = 0
    unresolved: list[str] = field(default_factory=list)  # vanished tasks whose lookup failed
