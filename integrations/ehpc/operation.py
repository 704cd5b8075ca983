"""E-HPC 2.0 operations as normalized tasks: the log lines of one ``RequestId`` become one :class:`Task`.

The 2024-07-30 API has no ListTasks; an asynchronous call writes operation log lines that share its
``RequestId`` (``ListCommonLogs``), and its stages are read separately (``GetCommonLogDetail``).
:func:`group_operations` folds a window's lines into one task per RequestId; :func:`with_detail` adds the
stages. Like :func:`~integrations.ehpc.task.normalize`, nothing here raises on odd input.

How lines decide the task (how many lines the cloud writes per operation is not documented, so any number
is accepted):

* **Status**: a final line (``Finished`` / ``Failed``) wins over ``InProgress`` whatever the order, so a
  late or repeated start line can never make a finished operation run again; among final lines the newest
  wins (``Failed`` on a tie); without one, the newest line's status (an unknown one is kept and recorded).
* **Errors**: the ``Message`` of a ``Failed`` line, until the stages are read; then each stage line with
  ``LogLevel`` ERROR or ``Status`` Failed (the log's message is kept only if no stage says more).
* **Progress**: ``current_step`` = stages done (a stage with a ``Finished`` line), ``total_steps`` None
  (the API gives no total), ``stage`` = the name of the last stage reported (with ``HiddenProcess``,
  the default, a stage shows once it is over).

``Time`` orders lines of one operation only; its zone is not documented and is never compared with our
clock (the window is our own ``From``/``To``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from integrations.ehpc.schema2024 import LogDetailPage, RawLog, RawStage
from integrations.ehpc.task import Task, TaskError, TaskStatus, parse_status, parse_type

__all__ = [
    "OperationDetail",
    "group_operations",
    "latest_lines",
    "parse_detail",
    "parse_time",
    "with_detail",
]

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class OperationDetail:
    """What ``GetCommonLogDetail`` said about one operation."""

    stages_done: int
    stage: str | None
    errors: tuple[TaskError, ...]
    problems: tuple[str, ...] = ()


def parse_time(value: object) -> datetime | None:
    """A log ``Time`` as a naive datetime (zone dropped: used to order one operation's lines only)."""
    if not isinstance(value, str):
        return None
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(value.strip(), form).replace(tzinfo=None)
        except ValueError:
            continue
    return None


def group_operations(lines: Iterable[RawLog], *, cluster_id: str) -> list[Task]:
    """One task per RequestId, in the order their first line came (newest first for a reversed listing).

    Lines without a RequestId cannot be tracked and are skipped (the client logs how many).
    """
    groups: dict[str, list[RawLog]] = {}
    for line in lines:
        request_id = _text(line.request_id)
        if request_id:
            groups.setdefault(request_id, []).append(line)
    return [_task(request_id, group, cluster_id=cluster_id) for request_id, group in groups.items()]


def latest_lines(lines: Iterable[RawLog]) -> dict[str, str]:
    """Per RequestId, the ``Time`` of its newest line: a new line (a stage ended) changes it."""
    newest: dict[str, tuple[datetime, str]] = {}
    for line in lines:
        request_id, text = _text(line.request_id), _text(line.time) or ""
        if not request_id:
            continue
        at = parse_time(text) or datetime.min
        if request_id not in newest or (at, text) > newest[request_id]:
            newest[request_id] = (at, text)
    return {request_id: text for request_id, (_, text) in newest.items()}


def parse_detail(page: LogDetailPage) -> OperationDetail:
    """Stages done, the last stage reported, and the stage errors of one GetCommonLogDetail answer."""
    done = 0
    stage: str | None = None
    errors: list[TaskError] = []
    problems: list[str] = []
    for group in page.log_detail:
        name = _text(group.stage_name)
        if name is None:
            problems.append("a LogDetail stage has no StageName")
        stage = name or stage
        if any(_is(line.status, "finished") for line in group.stages):
            done += 1
        errors.extend(_stage_error(name, line) for line in group.stages if _is_error(line))
    return OperationDetail(stages_done=done, stage=stage, errors=tuple(errors), problems=tuple(problems))


def with_detail(task: Task, detail: OperationDetail) -> Task:
    """``task`` with its stages: progress as stages done, and the stages' errors when they name any."""
    return task.model_copy(
        update={
            "current_step": detail.stages_done,
            "stage": detail.stage,
            "errors": detail.errors or task.errors,
            "problems": task.problems + detail.problems,
        }
    )


def _task(request_id: str, lines: Sequence[RawLog], *, cluster_id: str) -> Task:
    problems: list[str] = []
    deciding = _deciding_line(lines)
    status, raw_status = parse_status(deciding.status, problems)
    task_type, raw_type = parse_type(
        next((line.action for line in lines if _text(line.action)), None), problems, field="Action"
    )
    errors = tuple(
        TaskError(message=_text(line.message), raw=line.model_dump(by_alias=True))
        for line in lines
        if _is(line.status, "failed") and _text(line.message)
    )
    return Task(
        task_id=request_id,
        cluster_id=next((c for line in lines if (c := _text(line.cluster_id))), None) or cluster_id,
        task_type=task_type,
        raw_task_type=raw_type,
        status=status,
        raw_status=raw_status,
        errors=errors[:1] if status is TaskStatus.FAIL else (),
        problems=tuple(problems),
        generation="2.0",
    )


def _deciding_line(lines: Sequence[RawLog]) -> RawLog:
    """The line whose status the task takes (see the module docstring)."""
    finals = [line for line in lines if _is(line.status, "finished") or _is(line.status, "failed")]
    pool = finals or list(lines)

    def newest(item: tuple[int, RawLog]) -> tuple[datetime, bool, int]:
        index, line = item
        # Unparsable times sort oldest; a listing's own order (newest first) breaks ties.
        return (parse_time(line.time) or datetime.min, _is(line.status, "failed"), -index)

    return max(enumerate(pool), key=newest)[1]


def _is_error(line: RawStage) -> bool:
    return _is(line.log_level, "error") or _is(line.status, "failed")


def _stage_error(stage: str | None, line: RawStage) -> TaskError:
    message = _text(line.message)
    return TaskError(
        message=f"{stage}: {message}" if stage and message else message or stage,
        raw=line.model_dump(by_alias=True),
    )


def _is(value: object, word: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == word


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
