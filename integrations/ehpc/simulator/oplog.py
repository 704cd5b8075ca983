"""E-HPC 2.0 operations (API 2024-07-30) and the operation logs they write as the virtual clock moves.

The 2024 API has no tasks: an asynchronous call (CreateNodes, DeleteNodes, UpdateCluster …) shows up as
log lines sharing the call's ``RequestId``. Like a 1.0 task, an operation is a timeline: from its start,
stage length and outcome, the lines it has written by any clock reading follow. What it writes (the shape
of the real service's logs beyond the documented fields is not known; this is our choice, written down so
the client stays tolerant of fewer or more lines):

* ``ListCommonLogs``: one ``InProgress`` line when it starts, one ``InProgress`` line as each stage but
  the last ends, and one ``Finished`` or ``Failed`` line when it ends.
* ``GetCommonLogDetail``: one group per stage begun (``StageName``), each with a start line and, once the
  stage is over, a result line (``INFO`` / ``Finished``, or ``ERROR`` / ``Failed`` with the error);
  ``HiddenProcess=true`` (the default) keeps only the result lines.

A ``Failed`` operation fails in its middle stage. Bulk-added operations are *pinned*: one line at their
start time, with a fixed status, and no stages. Times are virtual seconds; the model turns them into
Unix seconds (:meth:`~integrations.ehpc.simulator.model.Model.unix`), and ``Time`` strings are
``YYYY-MM-DD HH:MM:SS`` in UTC (the documented example gives no zone; the client never compares them
with its own clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_STAGES",
    "LOG_OUTCOMES",
    "LogLine",
    "OpSpec",
    "SimOperation",
    "format_time",
]

LOG_OUTCOMES = ("Finished", "Failed")
DEFAULT_STAGES = ("CheckParameters", "CreateInstances", "ConfigNetwork", "InstallSoftware", "StartServices")
OPERATOR_UID = "1609982529920000"  # the account every simulated operation belongs to


def format_time(unix: float) -> str:
    """A log ``Time`` as the documented example writes it: ``2024-08-22 14:21:54``."""
    return datetime.fromtimestamp(int(unix), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class OpSpec:
    """What an asynchronous 2024 call sets going: its action, stages, stage length and outcome."""

    action: str
    outcome: str = "Finished"
    stages: tuple[str, ...] = DEFAULT_STAGES
    stage_seconds: float = 10.0
    error: str = "ecs.InsufficientBalance: The account balance is insufficient to create instances."

    def __post_init__(self) -> None:
        if self.outcome not in LOG_OUTCOMES:
            raise ValueError(f"outcome must be one of {LOG_OUTCOMES}")
        if not self.stages or self.stage_seconds <= 0:
            raise ValueError("an operation needs at least one stage and stage_seconds > 0")


@dataclass(frozen=True)
class LogLine:
    """One line an operation wrote, at virtual time ``at``."""

    at: float
    status: str
    message: str
    level: str = "INFO"


@dataclass(frozen=True)
class SimOperation:
    """One 2.0 operation on a cluster; ``pinned_status`` makes it a single fixed line."""

    request_id: str
    cluster_id: str
    spec: OpSpec
    started_at: float
    target: str
    pinned_status: str | None = None

    @property
    def _stages_run(self) -> int:
        """How many stages run before it ends (the failing one included)."""
        count = len(self.spec.stages)
        return (count + 1) // 2 if self.spec.outcome == "Failed" else count

    @property
    def ends_at(self) -> float:
        """When the final line is written."""
        return self.started_at + self._stages_run * self.spec.stage_seconds

    def status(self, now: float) -> str:
        """``InProgress``, ``Finished`` or ``Failed`` at virtual time ``now`` (a pinned status as it is)."""
        if self.pinned_status is not None:
            return self.pinned_status
        return self.spec.outcome if now >= self.ends_at else "InProgress"

    def lines(self, now: float) -> list[LogLine]:
        """The ``ListCommonLogs`` lines written by ``now``, oldest first."""
        if self.pinned_status is not None:
            return [LogLine(self.started_at, self.pinned_status, f"{self.spec.action} {self.pinned_status}")]
        if now < self.started_at:
            return []
        written = [LogLine(self.started_at, "InProgress", f"Start to {self.spec.action}.")]
        for index in range(self._stages_run - 1):
            at = self._stage_end(index)
            if at <= now:
                written.append(LogLine(at, "InProgress", f"Stage {self.spec.stages[index]} finished."))
        if now >= self.ends_at:
            if self.spec.outcome == "Failed":
                written.append(LogLine(self.ends_at, "Failed", f"{self.spec.action} failed: {self._error()}"))
            else:
                written.append(LogLine(self.ends_at, "Finished", f"{self.spec.action} finished."))
        return written

    def stage_groups(self, now: float, *, hidden_process: bool) -> list[tuple[str, list[LogLine]]]:
        """``GetCommonLogDetail``'s groups at ``now``: ``(StageName, lines)`` per stage begun."""
        if self.pinned_status is not None:
            return []
        groups: list[tuple[str, list[LogLine]]] = []
        for index in range(self._stages_run):
            begun = self.started_at + index * self.spec.stage_seconds
            if begun > now:
                break
            name = self.spec.stages[index]
            stage: list[LogLine] = []
            if not hidden_process:
                stage.append(LogLine(begun, "InProgress", f"Start to {name}."))
            end = self._stage_end(index)
            if end <= now:
                failing = self.spec.outcome == "Failed" and index == self._stages_run - 1
                stage.append(
                    LogLine(end, "Failed", self._error(), level="ERROR")
                    if failing
                    else LogLine(end, "Finished", f"{name} finished.")
                )
            groups.append((name, stage))
        return groups

    def to_wire(self, line: LogLine, *, unix: float) -> dict[str, Any]:
        """One element of ``Logs``; ``unix`` is the line's time in Unix seconds."""
        return {
            "Action": self.spec.action,
            "ClusterId": self.cluster_id,
            "LogType": "Operation",
            "Message": line.message,
            "OperatorUid": OPERATOR_UID,
            "RequestId": self.request_id,
            "Status": line.status,
            "Target": self.target,
            "Time": format_time(unix),
        }

    def stage_to_wire(self, line: LogLine, *, method: str, unix: float) -> dict[str, Any]:
        """One element of a ``LogDetail`` group's ``Stages``; ``unix`` is the line's time in Unix seconds."""
        return {
            "LogLevel": line.level,
            "Message": line.message,
            "Method": method,
            "RequestId": self.request_id,
            "Status": line.status,
            "Target": self.target,
            "Time": format_time(unix),
        }

    def _stage_end(self, index: int) -> float:
        return self.started_at + (index + 1) * self.spec.stage_seconds

    def _error(self) -> str:
        return f"Stage {self.spec.stages[self._stages_run - 1]} failed: {self.spec.error}"
