"""What the listeners use, handed in by the composition root (tests hand in their own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from worker.deliver.mutes import Mutes
from worker.slack_app.access import AccessPolicy
from worker.slack_app.directory import ClusterDirectory
from worker.slack_app.failures import DeadLetterStore, Retries
from worker.slack_app.live import LiveTasks
from worker.slack_app.lookup import Lookup

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """Everything the listeners use; ``now`` is the one clock (answers and signature age alike)."""

    lookup: Lookup
    mutes: Mutes
    access: AccessPolicy
    live: LiveTasks
    now: Callable[[], datetime]
    directory: ClusterDirectory
    dead_letters: DeadLetterStore
    retries: Retries
