"""The bolt listeners of ``/ehpc`` and the task-message buttons.

Each listener parses the command (:mod:`integrations.slack.commands`), asks the
:class:`~worker.slack_app.access.AccessPolicy`, answers from Redis (:class:`~worker.slack_app.lookup.Lookup`)
inside ``ack()`` — Slack's 3-second window — and only then, on the same listener thread, asks E-HPC live and
replaces the answer through ``response_url`` if something changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.ehpc.errors import EhpcError
from integrations.ehpc.task import Task
from integrations.slack.answers import (
    TaskRecord,
    render_clusters,
    render_help,
    render_muted,
    render_notice,
    render_task_card,
    render_task_not_found,
    render_tasks_page,
    render_unmuted,
    render_unrecognized,
)
from integrations.slack.commands import (
    PAGE_SIZE,
    ClustersQuery,
    Command,
    FailuresQuery,
    HelpQuery,
    HistoryQuery,
    MuteCommand,
    StatusQuery,
    TaskQuery,
    TasksQuery,
    Unmute,
    Unrecognized,
    parse_command,
    parse_task_key,
)
from integrations.slack.render import SlackMessage, escape
from worker.ops.metrics import record_slack_command
from worker.slack_app.access import ClusterAccess, Permission, Requester
from worker.slack_app.copy import channel_link, cluster_name, refusal, refusal_no_cluster
from worker.slack_app.overview import Overview
from worker.slack_app.services import Services

__all__ = ["Listeners"]

log = logging.getLogger(__name__)


MUTE_BUTTON = timedelta(hours=1)


MAX_LIVE_CLUSTERS = 10  # clusters asked live for an unrecorded TaskId, to stay well within a minute


@dataclass(frozen=True)
class _Answer:
    """An immediate answer, and optionally the live check to run once it is sent."""

    message: SlackMessage
    follow_up: Callable[[Respond], None] | None = None


# The metric's ``command`` label for each parsed form of ``/ehpc …``.
_COMMAND_NAMES: dict[type, str] = {
    HelpQuery: "help",
    Unrecognized: "unrecognized",
    TaskQuery: "task",
    TasksQuery: "tasks",
    ClustersQuery: "clusters",
    StatusQuery: "status",
    HistoryQuery: "history",
    FailuresQuery: "failures",
    MuteCommand: "mute",
    Unmute: "unmute",
}


class Listeners:
    """The bolt listeners; each parses, authorizes, answers from Redis, then checks live."""

    def __init__(self, *, services: Services, client: WebClient) -> None:
        self._s = services
        self._client = client
        self._overview = Overview(services=services, client=client)

    # slash command

    def command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> None:
        """``/ehpc …``: answer within the 3 s window, then refresh live."""
        requester = Requester(
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            channel_name=str(command.get("channel_name", "")),
        )
        parsed = parse_command(str(command.get("text", "")))
        answer = self._answer(parsed, requester, share=True, team_domain=str(command.get("team_domain", "")))
        record_slack_command(command=_COMMAND_NAMES[type(parsed)], result="answered")
        ack(text=answer.message.text, blocks=answer.message.block_list(), response_type="ephemeral")
        if answer.follow_up is not None:
            answer.follow_up(respond)

    def _answer(self, command: Command, requester: Requester, *, share: bool, team_domain: str) -> _Answer:
        match command:
            case HelpQuery():
                return _Answer(render_help())
            case Unrecognized():
                return _Answer(render_unrecognized(command))
            case TaskQuery():
                return self._task(command, requester, share=share)
            case TasksQuery():
                return self._tasks(command, requester, share=share)
            case ClustersQuery():
                return self._clusters(requester, share=share)
            case StatusQuery():
                return _Answer(
                    self._overview.status(self._allowed(requester, Permission.LOOKUP), requester, share=share)
                )
            case HistoryQuery():
                return _Answer(
                    self._overview.history(command, requester, team_domain=team_domain, share=share)
                )
            case FailuresQuery():
                return _Answer(self._overview.failures(self._allowed(requester, Permission.MUTE)))
            case MuteCommand():
                return _Answer(self._mute(command.cluster_id, command.duration, command.reason, requester))
            case Unmute():
                return _Answer(self._unmute(command.cluster_id, requester))

    def _task(self, query: TaskQuery, requester: Requester, *, share: bool) -> _Answer:
        clusters = self._allowed(requester, Permission.LOOKUP)
        if not clusters:
            return _Answer(refusal_no_cluster(requester, contact=self._s.access.contact))
        record = self._s.lookup.find_task(query.task_id, cluster_ids=[c.cluster_id for c in clusters])
        share_text = f"task {query.task_id}" if share else None
        if record is not None:
            name = cluster_name(clusters, record.task.cluster_id)
            card = render_task_card(
                record=record, cluster_name=name, now=self._s.now(), share=share_text, live=False
            )

            def refresh(respond: Respond) -> None:
                live = self._live_task(record.task.cluster_id, query.task_id)
                if live is not None and live != record.task:
                    fresh = TaskRecord(task=live, first_seen=record.first_seen, last_seen=self._s.now())
                    _replace(
                        respond,
                        render_task_card(
                            record=fresh, cluster_name=name, now=self._s.now(), share=share_text, live=True
                        ),
                    )

            return _Answer(card, refresh)
        searched = clusters[:MAX_LIVE_CLUSTERS]
        waiting = render_notice(
            f":mag: Task `{escape(query.task_id)}` is not in ehpc-bridge's records; "
            f"asking E-HPC live on {len(searched)} cluster(s)…"
        )

        def search(respond: Respond) -> None:
            for cluster in searched:
                live = self._live_task(cluster.cluster_id, query.task_id)
                if live is not None:
                    now = self._s.now()
                    found = TaskRecord(task=live, first_seen=now, last_seen=now)
                    _replace(
                        respond,
                        render_task_card(
                            record=found, cluster_name=cluster.name, now=now, share=share_text, live=True
                        ),
                    )
                    return
            _replace(respond, render_task_not_found(task_id=query.task_id, searched=len(searched)))

        return _Answer(waiting, search)

    def _tasks(self, query: TasksQuery, requester: Requester, *, share: bool) -> _Answer:
        decision = self._s.access.check(requester, cluster_id=query.cluster_id, permission=Permission.LOOKUP)
        if not decision.allowed:
            return _Answer(refusal(query.cluster_id, decision))
        cluster = self._s.access.cluster(query.cluster_id)
        name = cluster.name if cluster is not None else query.cluster_id
        lookup = self._s.lookup
        records = (
            lookup.recent(query.cluster_id) if query.include_finished else lookup.running(query.cluster_id)
        )

        def page(rows: Sequence[TaskRecord]) -> SlackMessage:
            shown = rows[query.offset : query.offset + PAGE_SIZE]
            return render_tasks_page(
                query=query, cluster_name=name, records=shown, total=len(rows), now=self._s.now(), share=share
            )

        def refresh(respond: Respond) -> None:
            live = self._live_list(query)
            if live is None:
                return
            merged = _merge(records, live, now=self._s.now(), keep_missing=query.include_finished)
            if [r.task for r in merged] != [r.task for r in records]:
                _replace(respond, page(merged))

        return _Answer(page(records), refresh)

    def _clusters(self, requester: Requester, *, share: bool) -> _Answer:
        clusters = self._allowed(requester, Permission.LOOKUP)
        if not clusters:
            return _Answer(refusal_no_cluster(requester, contact=self._s.access.contact))
        health = self._s.lookup.health([(c.cluster_id, c.name) for c in clusters])
        return _Answer(render_clusters(clusters=health, now=self._s.now(), share=share))

    def _mute(self, cluster_id: str, duration: timedelta, reason: str, requester: Requester) -> SlackMessage:
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.MUTE)
        cluster = self._s.access.cluster(cluster_id)
        if not decision.allowed or cluster is None:
            return refusal(cluster_id, decision)
        now = self._s.now()
        mute = self._s.mutes.mute(
            cluster_id=cluster_id, until=now + duration, reason=reason, user_id=requester.user_id, now=now
        )
        log.info("user %s muted cluster %s until %s", requester.user_id, cluster_id, mute.until.isoformat())
        problem = self._announce(
            cluster,
            render_muted(
                cluster_name=cluster.name, until=mute.until, reason=reason, user_id=requester.user_id
            ),
        )
        where = problem or f"announced in {channel_link(cluster.channels[0])}"
        return render_notice(
            f":mute: Muted *{escape(cluster.name)}* until {mute.until:%Y-%m-%d %H:%M} UTC "
            f"({where}). `/ehpc unmute {escape(cluster_id)}` ends it."
        )

    def _unmute(self, cluster_id: str, requester: Requester) -> SlackMessage:
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.MUTE)
        cluster = self._s.access.cluster(cluster_id)
        if not decision.allowed or cluster is None:
            return refusal(cluster_id, decision)
        summary = self._s.mutes.unmute(cluster_id=cluster_id, now=self._s.now())
        if summary is None:
            return render_notice(f"*{escape(cluster.name)}* was not muted.")
        log.info("user %s unmuted cluster %s", requester.user_id, cluster_id)
        problem = self._announce(
            cluster, render_unmuted(cluster_name=cluster.name, user_id=requester.user_id)
        )
        # The summary is claimed now and posted by the worker (beat's mute check, within 30 s), under its
        # claimed id: posted once even if a first attempt fails (worker.deliver.mutes).
        told = f", but {problem}; the summary" if problem else "; the summary"
        return render_notice(
            f":loud_sound: Unmuted *{escape(cluster.name)}*{told} of what happened meanwhile "
            "follows in the channel within a minute."
        )

    # buttons

    def refresh(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """ "Refresh": re-read the task live and replace the message with it."""
        ack()
        pressed = _task_button(body, respond)
        if pressed is None:
            return
        cluster_id, task_id, requester = pressed
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.LOOKUP)
        if not decision.allowed:
            respond(**_ephemeral(refusal(cluster_id, decision)))
            return
        live = self._live_task(cluster_id, task_id)
        if live is None:
            notice = f"E-HPC could not tell about task `{escape(task_id)}` just now; try again soon."
            respond(**_ephemeral(render_notice(notice)))
            return
        recorded = self._s.lookup.find_task(task_id, cluster_ids=[cluster_id])
        now = self._s.now()
        record = TaskRecord(task=live, first_seen=recorded.first_seen if recorded else now, last_seen=now)
        ephemeral = bool(body.get("container", {}).get("is_ephemeral"))
        card = render_task_card(
            record=record,
            cluster_name=cluster_name(self._s.access.visible(requester), cluster_id),
            now=now,
            share=f"task {task_id}" if ephemeral else None,
            live=True,
        )
        _replace(respond, card)

    def mute_hour(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """ "Mute cluster 1 h" under a task message."""
        ack()
        pressed = _task_button(body, respond)
        if pressed is not None:
            cluster_id, _, requester = pressed
            respond(**_ephemeral(self._mute(cluster_id, MUTE_BUTTON, "", requester)))

    def share(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """ "Share in channel": answer the same question again, visibly, in the channel."""
        ack()
        value, requester = _button(body)
        command = parse_command(value)
        if not isinstance(command, TaskQuery | TasksQuery | ClustersQuery | StatusQuery | HistoryQuery):
            respond(**_ephemeral(render_notice("Only lookups can be shared.")))
            return
        domain = str((body.get("team") or {}).get("domain", ""))
        answer = self._answer(command, requester, share=False, team_domain=domain)
        message = answer.message
        respond(
            text=message.text, blocks=message.block_list(), response_type="in_channel", replace_original=False
        )

    def more(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """ "More": the next page of a task list, as a new ephemeral answer."""
        ack()
        value, requester = _button(body)
        command = parse_command(value)
        if not isinstance(command, TasksQuery):
            respond(**_ephemeral(render_notice("That button's page is not valid.")))
            return
        answer = self._tasks(command, requester, share=True)
        respond(**_ephemeral(answer.message))

    def retry(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """ "Retry" on a dead letter (``/ehpc failures``): re-deliver it once, then say how it went."""
        ack()
        letter_id, requester = _button(body)
        respond(**_ephemeral(self._overview.retry(letter_id, requester)))

    def home_opened(self, event: Mapping[str, Any]) -> None:
        """``app_home_opened``: the status board of the user's clusters on their Home tab."""
        self._overview.home_opened(event)

    # helpers

    def _allowed(self, requester: Requester, permission: Permission) -> list[ClusterAccess]:
        return [
            cluster
            for cluster in self._s.access.visible(requester)
            if self._s.access.check(requester, cluster_id=cluster.cluster_id, permission=permission).allowed
        ]

    def _live_task(self, cluster_id: str, task_id: str) -> Task | None:
        try:
            return self._s.live.get_task(cluster_id, task_id)
        except EhpcError as error:
            log.warning("live lookup of task %s on %s failed: %s", task_id, cluster_id, error)
            return None

    def _live_list(self, query: TasksQuery) -> list[Task] | None:
        try:
            if query.include_finished:
                return self._s.live.list_archived(query.cluster_id, max_pages=1)
            return self._s.live.list_running(query.cluster_id)
        except EhpcError as error:
            log.warning("live listing of %s failed: %s", query.cluster_id, error)
            return None

    def _announce(self, cluster: ClusterAccess, message: SlackMessage) -> str:
        """Post ``message`` in the cluster's first channel; "" when posted, else what went wrong, in words
        for the person who asked (the failure is logged as an error too, never swallowed)."""
        channel = cluster.channels[0]
        try:
            self._client.chat_postMessage(channel=channel, text=message.text, blocks=message.block_list())
        except SlackApiError as error:
            code = str(error.response.get("error") or "error")
            log.error("could not announce in %s for cluster %s: %s", channel, cluster.cluster_id, code)
            return f"the announcement in {channel_link(channel)} failed: Slack said `{escape(code)}`"
        return ""


def _merge(
    records: Sequence[TaskRecord], live: Sequence[Task], *, now: datetime, keep_missing: bool
) -> list[TaskRecord]:
    """Recorded rows updated with what E-HPC says now, newest first; running lists drop vanished tasks."""
    known = {record.task.task_id: record for record in records}
    merged = {
        task.task_id: TaskRecord(
            task=task,
            first_seen=known[task.task_id].first_seen if task.task_id in known else now,
            last_seen=now,
        )
        for task in live
    }
    if keep_missing:
        merged = {**known, **merged}
    return sorted(merged.values(), key=lambda row: (row.first_seen, row.task.task_id), reverse=True)


def _button(body: Mapping[str, Any]) -> tuple[str, Requester]:
    """The pressed button's value, and who pressed it where."""
    actions = body.get("actions") or [{}]
    channel = body.get("channel") or {}
    requester = Requester(
        user_id=str((body.get("user") or {}).get("id", "")),
        channel_id=str(channel.get("id") or (body.get("container") or {}).get("channel_id", "")),
        channel_name=str(channel.get("name", "")),
    )
    return str(actions[0].get("value", "")), requester


def _task_button(body: Mapping[str, Any], respond: Respond) -> tuple[str, str, Requester] | None:
    """Cluster, task and presser of a task-message button; None (the presser told) if its value is bad."""
    value, requester = _button(body)
    task_key = parse_task_key(value)
    if task_key is None:
        respond(**_ephemeral(render_notice("That button's task is not valid.")))
        return None
    return task_key[0], task_key[1], requester


def _ephemeral(message: SlackMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "blocks": message.block_list(),
        "response_type": "ephemeral",
        "replace_original": False,
    }


def _replace(respond: Respond, message: SlackMessage) -> None:
    respond(text=message.text, blocks=message.block_list(), replace_original=True)
