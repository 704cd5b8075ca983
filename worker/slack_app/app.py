"""The Slack app's composition root: the bolt App with ``/ehpc`` and the buttons, from settings or by hand.

Request flow: :class:`~worker.slack_app.signature.SignatureCheck` (401 for anything unsigned, tampered
with or stale), then :class:`~worker.slack_app.listeners.Listeners`. Serving it: :mod:`worker.slack_app.cli`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from integrations.slack.commands import (
    ACTION_MORE,
    ACTION_MUTE_HOUR,
    ACTION_REFRESH,
    ACTION_RETRY,
    ACTION_SHARE,
)
from worker.config.settings import Settings
from worker.slack_app.access import access_policy
from worker.slack_app.directory import cluster_directory
from worker.slack_app.failures import Retries
from worker.slack_app.groups import UserGroups
from worker.slack_app.listeners import Listeners
from worker.slack_app.live import RegionalTasks
from worker.slack_app.services import Services
from worker.slack_app.signature import SignatureCheck

__all__ = [
    "COMMAND",
    "EVENTS_PATH",
    "StartupError",
    "app_from_settings",
    "build_app",
    "socket_mode_handler",
    "startup_problem",
]


if TYPE_CHECKING:
    from integrations.base import Transition
    from worker.runtime import Runtime


class StartupError(Exception):
    """The Slack app can't start with these settings; the message says what to set."""


COMMAND = "/ehpc"


EVENTS_PATH = "/slack/events"


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
    listeners = Listeners(services=services, client=client)
    app.command(COMMAND)(listeners.command)
    app.action(ACTION_REFRESH)(listeners.refresh)
    app.action(ACTION_MUTE_HOUR)(listeners.mute_hour)
    app.action(ACTION_SHARE)(listeners.share)
    app.action(ACTION_MORE)(listeners.more)
    app.action(ACTION_RETRY)(listeners.retry)
    app.event("app_home_opened")(listeners.home_opened)
    return app


def socket_mode_handler(app: App, *, app_token: str) -> SocketModeHandler:
    """Socket Mode for ``app``: bolt's built-in handler (no extra dependency), which asks
    ``apps.connections.open`` through the app's own client (``SLACK_API_URL``) with the app-level token,
    acks each envelope with the listener's answer, and reconnects on Slack's ``disconnect``."""
    return SocketModeHandler(app, app_token)


def redeliver(rt: Runtime, destination: str, transition: Transition) -> None:
    """Send ``transition`` again through ``destination``'s notifier (*Retry* on a dead letter)."""
    rt.notifier(target_name=destination, cluster_id=transition.task.cluster_id).send(transition)


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


def app_from_settings(settings: Settings) -> App:
    """The production App over the worker's runtime (Redis, E-HPC clients per region, configuration)."""
    from worker.runtime import Runtime

    problem = startup_problem(settings)
    if problem is not None or settings.slack_bot_token is None:
        raise StartupError(problem)
    rt = Runtime.from_settings(settings)
    web = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    groups = UserGroups(client=web, redis_client=rt.redis, keys=rt.keys)
    dead_letters = rt.dead_letters
    services = Services(
        lookup=rt.lookup,
        mutes=rt.mutes,
        access=access_policy(rt, members_of=groups.members),
        live=RegionalTasks(rt),
        now=lambda: datetime.now(UTC),
        directory=cluster_directory(rt),
        dead_letters=dead_letters,
        retries=Retries(store=dead_letters, client=rt.redis, keys=rt.keys, redeliver=partial(redeliver, rt)),
    )
    secret = settings.slack_signing_secret
    return build_app(
        services=services,
        client=web,
        signing_secret=None if settings.slack_app_token or secret is None else secret.get_secret_value(),
    )
