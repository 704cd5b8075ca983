"""The Slack app: ``/ehpc`` and the task-message buttons, composed on slack-bolt (the composition root).

Request flow: bolt checks the v0 signature (:class:`SignatureCheck`, placed where bolt's own check sits and
driven by the same clock as the answers), the listener parses the command
(:mod:`integrations.slack.commands`), asks :class:`~worker.access.AccessPolicy`, answers from Redis
(:class:`~worker.lookup.Lookup`) inside ``ack()`` — Slack's 3-second window — and only then, on the same
listener thread, asks E-HPC live and replaces the answer through ``response_url`` if something changed.
A request whose signature is missing, forged, tampered with or older than five minutes gets 401 and
nothing else: no listener runs, no Redis or Slack call is made.

Running: :func:`run_slack_app` (``ehpc-bridge slack-app``) serves ``POST /slack/events`` with gunicorn
(gthread workers) in HTTP mode, or connects out with Socket Mode when ``SLACK_APP_TOKEN`` is set.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from gunicorn.app.base import BaseApplication
from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier

from integrations.ehpc.errors import EhpcError
from integrations.ehpc.task import Task
from integrations.slack.commands import (
    ACTION_MORE,
    ACTION_MUTE_HOUR,
    ACTION_REFRESH,
    ACTION_SHARE,
    PAGE_SIZE,
    ClustersQuery,
    Command,
    HelpQuery,
    MuteCommand,
    TaskQuery,
    TaskRecord,
    TasksQuery,
    Unmute,
    Unrecognized,
    parse_command,
    parse_task_key,
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
from integrations.slack.render import SlackMessage, escape
from integrations.target import SlackTarget
from worker.access import AccessPolicy, ClusterAccess, Permission, Requester
from worker.config import DEFAULT_TARGET
from worker.lookup import Lookup
from worker.metrics import record_slack_command
from worker.mutes import Mutes
from worker.processes import SLACK_APP_METRICS_PORT, start_health
from worker.settings import Settings

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = [
    "COMMAND",
    "EVENTS_PATH",
    "LiveTasks",
    "Services",
    "SignatureCheck",
    "access_policy",
    "app_from_settings",
    "build_app",
    "run_slack_app",
    "startup_problem",
]

COMMAND = "/ehpc"
EVENTS_PATH = "/slack/events"
MUTE_BUTTON = timedelta(hours=1)
MAX_LIVE_CLUSTERS = 10  # clusters asked live for an unrecorded TaskId, to stay well within a minute

log = logging.getLogger(__name__)


class LiveTasks(Protocol):
    """What the app asks E-HPC live (:class:`integrations.ehpc.client.EhpcClient` is one)."""

    def get_task(self, cluster_id: str, task_id: str) -> Task | None:
        """One task by TaskId, or None when E-HPC does not know it."""

    def list_running(self, cluster_id: str) -> list[Task]:
        """The cluster's running tasks."""

    def list_archived(self, cluster_id: str, *, max_pages: int = ...) -> list[Task]:
        """The cluster's newest tasks, running and finished."""


@dataclass(frozen=True)
class Services:
    """Everything the listeners use; ``now`` is the one clock (answers and signature age alike)."""

    lookup: Lookup
    mutes: Mutes
    access: AccessPolicy
    live: LiveTasks
    now: Callable[[], datetime]


class SignatureCheck(RequestVerification):
    """Bolt's v0 signature middleware with an injectable clock and no request body in its log line.

    Also turns a non-numeric ``X-Slack-Request-Timestamp`` into a 401 (slack-sdk's verifier would raise).
    """

    def __init__(self, *, signing_secret: str, now: Callable[[], datetime]) -> None:
        super().__init__(signing_secret)
        self._verifier = SignatureVerifier(signing_secret=signing_secret, clock=_EpochClock(now))

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Pass signed, fresh requests on; answer 401 to anything else."""
        timestamp = req.headers.get("x-slack-request-timestamp", [""])[0]
        if req.mode != "socket_mode" and not (timestamp.isascii() and timestamp.isdigit()):
            self._debug_log_error("", timestamp, "")
            return self._build_error_response()
        return super().process(req=req, resp=resp, next=next)

    def _debug_log_error(self, signature: str, timestamp: str, body: str) -> None:
        log.warning(
            "refused a Slack request with a missing, invalid or stale signature (ts %r)", timestamp[:20]
        )


class _EpochClock(Clock):
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()


def build_app(
    *,
    services: Services,
    client: WebClient,
    signing_secret: str | None,
    token_verification: bool = True,
    executor: Executor | None = None,
) -> App:
    """The bolt App with ``/ehpc`` and the buttons; ``signing_secret`` None only for Socket Mode.

    ``executor`` runs the listeners (bolt's own thread pool by default); a test passes its own to wait
    for the live follow-ups.
    """
    check = (
        None if signing_secret is None else SignatureCheck(signing_secret=signing_secret, now=services.now)
    )
    app = App(
        client=client,  # its token is the bot token
        signing_secret=signing_secret,
        request_verification_enabled=False,
        ssl_check_enabled=False,  # bolt answers ssl_check before verifying: no request skips the signature
        before_authorize=check,
        token_verification_enabled=token_verification,
        name="ehpc-bridge",
        listener_executor=executor,
    )
    listeners = _Listeners(services=services, client=client)
    app.command(COMMAND)(listeners.command)
    app.action(ACTION_REFRESH)(listeners.refresh)
    app.action(ACTION_MUTE_HOUR)(listeners.mute_hour)
    app.action(ACTION_SHARE)(listeners.share)
    app.action(ACTION_MORE)(listeners.more)
    return app


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
    MuteCommand: "mute",
    Unmute: "unmute",
}


class _Listeners:
    """The bolt listeners; each parses, authorizes, answers from Redis, then checks live."""

    def __init__(self, *, services: Services, client: WebClient) -> None:
        self._s = services
        self._client = client

    # slash command

    def command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> None:
        """``/ehpc …``: answer within the 3 s window, then refresh live."""
        requester = Requester(
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            channel_name=str(command.get("channel_name", "")),
        )
        parsed = parse_command(str(command.get("text", "")))
        answer = self._answer(parsed, requester, share=True)
        record_slack_command(command=_COMMAND_NAMES[type(parsed)], result="answered")
        ack(text=answer.message.text, blocks=answer.message.block_list(), response_type="ephemeral")
        if answer.follow_up is not None:
            answer.follow_up(respond)

    def _answer(self, command: Command, requester: Requester, *, share: bool) -> _Answer:
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
            case MuteCommand():
                return _Answer(self._mute(command.cluster_id, command.duration, command.reason, requester))
            case Unmute():
                return _Answer(self._unmute(command.cluster_id, requester))

    def _task(self, query: TaskQuery, requester: Requester, *, share: bool) -> _Answer:
        clusters = self._allowed(requester, Permission.LOOKUP)
        if not clusters:
            return _Answer(_refusal_no_cluster(requester))
        record = self._s.lookup.find_task(query.task_id, cluster_ids=[c.cluster_id for c in clusters])
        share_text = f"task {query.task_id}" if share else None
        if record is not None:
            name = _name(clusters, record.task.cluster_id)
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
            return _Answer(_refusal(query.cluster_id, decision.reason))
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
            return _Answer(_refusal_no_cluster(requester))
        health = self._s.lookup.health([(c.cluster_id, c.name) for c in clusters])
        return _Answer(render_clusters(clusters=health, now=self._s.now(), share=share))

    def _mute(self, cluster_id: str, duration: timedelta, reason: str, requester: Requester) -> SlackMessage:
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.MUTE)
        cluster = self._s.access.cluster(cluster_id)
        if not decision.allowed or cluster is None:
            return _refusal(cluster_id, decision.reason)
        now = self._s.now()
        mute = self._s.mutes.mute(
            cluster_id=cluster_id, until=now + duration, reason=reason, user_id=requester.user_id, now=now
        )
        log.info("user %s muted cluster %s until %s", requester.user_id, cluster_id, mute.until.isoformat())
        self._announce(
            cluster,
            render_muted(
                cluster_name=cluster.name, until=mute.until, reason=reason, user_id=requester.user_id
            ),
        )
        return render_notice(
            f":mute: Muted *{escape(cluster.name)}* until {mute.until:%Y-%m-%d %H:%M} UTC "
            f"(announced in {_channel_link(cluster.channels[0])}). "
            f"`/ehpc unmute {escape(cluster_id)}` ends it."
        )

    def _unmute(self, cluster_id: str, requester: Requester) -> SlackMessage:
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.MUTE)
        cluster = self._s.access.cluster(cluster_id)
        if not decision.allowed or cluster is None:
            return _refusal(cluster_id, decision.reason)
        summary = self._s.mutes.unmute(cluster_id=cluster_id, now=self._s.now())
        if summary is None:
            return render_notice(f"*{escape(cluster.name)}* was not muted.")
        log.info("user %s unmuted cluster %s", requester.user_id, cluster_id)
        self._announce(cluster, render_unmuted(cluster_name=cluster.name, user_id=requester.user_id))
        self._announce(cluster, summary.render(cluster_name=cluster.name))
        return render_notice(f":loud_sound: Unmuted *{escape(cluster.name)}*; the summary is in the channel.")

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
            respond(**_ephemeral(_refusal(cluster_id, decision.reason)))
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
            cluster_name=_name(self._s.access.visible(requester), cluster_id),
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
        if not isinstance(command, TaskQuery | TasksQuery | ClustersQuery):
            respond(**_ephemeral(render_notice("Only lookups can be shared.")))
            return
        answer = self._answer(command, requester, share=False)
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

    def _announce(self, cluster: ClusterAccess, message: SlackMessage) -> None:
        try:
            self._client.chat_postMessage(
                channel=cluster.channels[0], text=message.text, blocks=message.block_list()
            )
        except SlackApiError as error:
            log.warning("could not announce in %s: %s", cluster.channels[0], error.response.get("error"))


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


def _channel_link(channel: str) -> str:
    """A channel as Slack shows it: ``<#C0123>`` for an ID, ``#name`` for a name."""
    if re.fullmatch(r"[CG][A-Z0-9]{6,}", channel):
        return f"<#{channel}>"
    return escape("#" + channel.lstrip("#"))


def _name(clusters: Sequence[ClusterAccess], cluster_id: str) -> str:
    return next((cluster.name for cluster in clusters if cluster.cluster_id == cluster_id), cluster_id)


def _refusal(cluster_id: str, reason: str) -> SlackMessage:
    return render_notice(
        f":no_entry_sign: Sorry, I can't do that for cluster `{escape(cluster_id)}`: {escape(reason)}."
    )


def _refusal_no_cluster(requester: Requester) -> SlackMessage:
    log.warning(
        "refused a lookup to user %s in channel %s: no cluster visible",
        requester.user_id,
        requester.channel_id,
    )
    return render_notice(
        ":no_entry_sign: Sorry, no watched cluster belongs to this channel "
        "(or you may not look them up from here)."
    )


def _ephemeral(message: SlackMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "blocks": message.block_list(),
        "response_type": "ephemeral",
        "replace_original": False,
    }


def _replace(respond: Respond, message: SlackMessage) -> None:
    respond(text=message.text, blocks=message.block_list(), replace_original=True)


def run_slack_app(argv: Sequence[str]) -> int:
    """``ehpc-bridge slack-app [--host H] [--port P] [--workers N] [--threads N]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="ehpc-bridge slack-app", description="Serve /ehpc and its buttons.")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to bind (default 0.0.0.0)")  # noqa: S104
    parser.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000)")
    parser.add_argument("--workers", type=int, default=1, help="HTTP mode: gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="HTTP mode: threads per worker")
    args = parser.parse_args(list(argv))

    from worker.config import ConfigError
    from worker.logs import configure_logging
    from worker.runtime import Runtime

    settings = Settings()
    problem = startup_problem(settings)
    if problem is None:
        try:
            access_policy(Runtime.from_settings(settings))  # a bad config or a channel-less cluster: stop now
        except (ConfigError, LookupError) as error:
            problem = str(error).strip("'")
    if problem is not None:
        print(f"ehpc-bridge slack-app: {problem}", file=sys.stderr)
        return 2
    configure_logging()
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        log.info("connecting to Slack in Socket Mode")
        start_health(SLACK_APP_METRICS_PORT)
        handler = SocketModeHandler(app_from_settings(settings), settings.slack_app_token.get_secret_value())
        handler.start()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        return 0
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        # /metrics must be served where the counters live: the one worker process (several: the first)
        "post_worker_init": _health_in_first_worker,
    }
    log.info("serving POST %s on %s:%d", EVENTS_PATH, args.host, args.port)
    _Gunicorn(lambda: SlackRequestHandler(app_from_settings(settings), path=EVENTS_PATH), options).run()
    return 0


def _health_in_first_worker(worker: Any) -> None:
    """gunicorn hook: one worker serves /metrics and /healthz; with several, the first to bind the port."""
    try:
        start_health(SLACK_APP_METRICS_PORT)
    except OSError:
        log.info("worker %s: another worker serves /metrics", worker.pid)


def startup_problem(settings: Settings) -> str | None:
    """Why the Slack app cannot start with these settings (in words for the operator), or None."""
    if settings.slack_bot_token is None:
        return "SLACK_BOT_TOKEN is not set (the bot token, xoxb-…, from the app's OAuth page)"
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
            "(Basic Information → Signing Secret); or set SLACK_APP_TOKEN to use Socket Mode"
        )
    return None


def access_policy(rt: Runtime) -> AccessPolicy:
    """Each watched cluster belongs to the channel its Slack messages go to (``SLACK_CHANNEL`` by default).

    Raises LookupError naming a cluster that has no channel at all.
    """
    target = rt.targets.get(DEFAULT_TARGET)
    grants = []
    for cluster in rt.clusters.values():
        if isinstance(target, SlackTarget):
            channel = rt.slack_channel(target=target, cluster_id=cluster.id)
        else:
            channel = cluster.slack_channel or rt.settings.slack_channel or ""
        if not channel:
            raise LookupError(f"no Slack channel for cluster {cluster.id}: set SLACK_CHANNEL")
        grants.append(ClusterAccess(cluster.id, cluster.display_name, (channel,)))
    if not grants:
        raise LookupError("no cluster is watched: set EHPC_CLUSTERS or list clusters in EHPC_CONFIG")
    return AccessPolicy(clusters=grants)


def app_from_settings(settings: Settings) -> App:
    """The production App over the worker's runtime (Redis, E-HPC clients per region, configuration)."""
    from worker.runtime import Runtime

    problem = startup_problem(settings)
    if problem is not None or settings.slack_bot_token is None:
        raise LookupError(problem)
    rt = Runtime.from_settings(settings)
    services = Services(
        lookup=rt.lookup,
        mutes=rt.mutes,
        access=access_policy(rt),
        live=_RegionalTasks(rt),
        now=lambda: datetime.now(UTC),
    )
    secret = settings.slack_signing_secret
    web = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    return build_app(
        services=services,
        client=web,
        signing_secret=None if settings.slack_app_token or secret is None else secret.get_secret_value(),
    )


class _RegionalTasks:
    """:class:`LiveTasks` over the runtime's E-HPC clients: each cluster asked through its region's."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def get_task(self, cluster_id: str, task_id: str) -> Task | None:
        return self._rt.ehpc(cluster_id).get_task(cluster_id, task_id)

    def list_running(self, cluster_id: str) -> list[Task]:
        return self._rt.ehpc(cluster_id).list_running(cluster_id)

    def list_archived(self, cluster_id: str, *, max_pages: int = 1) -> list[Task]:
        return self._rt.ehpc(cluster_id).list_archived(cluster_id, max_pages=max_pages)


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn embedded: each worker builds its own App after the fork (no shared sockets or threads)."""

    def __init__(self, load: Callable[[], object], options: Mapping[str, object]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> object:
        return self._load()
