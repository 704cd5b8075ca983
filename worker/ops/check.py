"""``ehpc-bridge check``: is this deployment able to work? One line per check or problem, and what to do.

It validates the configuration, pings Redis, resolves the Alibaba Cloud credentials, calls ListTasks once
per watched cluster (for an E-HPC 2.0 cluster ListCommonLogs, after asking the 2024 API which generation
it is when ``api: auto``), and asks each target that has a harmless call (Slack ``auth.test``; any
notifier with a ``check()`` method) whether its credentials work. For each channel a Slack target posts
to, it reads one message of history and says which channel lacks membership (``not_in_channel``) or
which scope (``missing_scope``, needed and granted). It resolves each Slack user group the access rules
name (``usergroups.users.list``: the ``usergroups:read`` scope). Exit status 0 only when every line
passed. Nothing is posted anywhere.

A first run with nothing configured is the case this is written for: each missing setting gets its own
line naming the variable to set and where it goes (the environment, a ``NAME_FILE``, ``.env`` for
docker compose, or the ``EHPC_CONFIG`` file). No traceback is printed: failures are lines of the table,
and the SDKs' own loggers are quieted (:func:`worker.ops.logs.quiet_sdk_loggers`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import redis
from pydantic import ValidationError
from slack_sdk import WebClient

from integrations.base import ChannelHistory
from integrations.ehpc.errors import EhpcError
from worker.config.models import ConfigError
from worker.config.settings import Settings
from worker.detect.poll2024 import generation_of
from worker.ops.logs import configure_logging, quiet_sdk_loggers
from worker.runtime import Runtime
from worker.slack_app.groups import GROUPS_SCOPE, UserGroups

__all__ = ["CheckResult", "run_check", "run_checks"]

NO_CLUSTERS = (
    "none to watch: set EHPC_CLUSTERS=<ClusterId>[,<ClusterId>…] in the environment (.env for docker"
    " compose), or list them under clusters: in the EHPC_CONFIG file"
)
NO_CREDENTIALS = (
    "none found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (in the environment,"
    " .env for docker compose, or files named by ALIBABA_CLOUD_ACCESS_KEY_ID_FILE and …_SECRET_FILE), or"
    " give this host an aliyun CLI profile (~/.aliyun/config.json) or an ECS RAM role"
)
NO_SLACK_BOT = (
    "SLACK_BOT_TOKEN is not set: your Slack app's bot token (xoxb-…, api.slack.com/apps → OAuth &"
    " Permissions; scopes chat:write, channels:history, usergroups:read), in the environment or a file"
    " named by SLACK_BOT_TOKEN_FILE"
)
NO_SLACK_CHANNEL = (
    "SLACK_CHANNEL is not set: the ID (C…) of the channel to post in, with the app invited there, in the"
    " environment (or channel: on the target, slack_channel: per cluster in the EHPC_CONFIG file)"
)
_HINTS = {"SLACK_BOT_TOKEN": NO_SLACK_BOT, "SLACK_CHANNEL": NO_SLACK_CHANNEL}
REDIS_HINT = "start one (scripts/redis-up.sh) or point REDIS_URL at yours"


@dataclass(frozen=True)
class CheckResult:
    """One line of the table."""

    name: str
    ok: bool
    detail: str


def _attempt(name: str, probe: Callable[[], str], *, hint: str = "") -> CheckResult:
    try:
        return CheckResult(name=name, ok=True, detail=probe())
    except Exception as error:  # the table reports every failure, whatever it is
        detail = _one_line(f"{type(error).__name__}: {error}")
        return CheckResult(name=name, ok=False, detail=f"{detail}: {hint}" if hint else detail)


def run_checks(rt: Runtime) -> list[CheckResult]:
    """Every check for a built runtime, in the order an operator would fix them."""
    results = [_attempt("redis", partial(_ping, rt), hint=REDIS_HINT)]
    if not rt.clusters:
        results.append(CheckResult(name="clusters", ok=False, detail=NO_CLUSTERS))
    credentials = _credentials(rt)
    results.append(credentials)
    if credentials.ok:  # without credentials every ListTasks fails the same way: one line says it
        results.extend(_check_cluster(rt, cluster_id) for cluster_id in rt.clusters)
    first_cluster = next(iter(rt.clusters), "")
    for name in rt.targets:
        problems = _setup_problems(rt, name)
        results.extend(CheckResult(name=f"target {name}", ok=False, detail=problem) for problem in problems)
        if not problems:
            results.append(_attempt(f"target {name}", partial(_target, rt, name, first_cluster)))
            results += _slack_channels(rt, name)
    results.extend(_user_groups(rt))
    return results


def _slack_channels(rt: Runtime, name: str) -> list[CheckResult]:
    """One line per channel a Slack target posts to: can the bot read its history (membership, scope)?

    Without it a post that timed out can't be looked up, so it is posted again and may show twice.
    Nothing for other targets.
    """
    by_channel: dict[str, ChannelHistory] = {}
    for cluster_id in rt.clusters:
        history = rt.policy(target_name=name, cluster_id=cluster_id).history()
        if history is not None:
            by_channel.setdefault(history.channel, history)
    return [
        _attempt(f"target {name} {channel}", history.check_history) for channel, history in by_channel.items()
    ]


def _user_groups(rt: Runtime) -> list[CheckResult]:
    """Each Slack user group the access rules name, asked once (``usergroups.users.list``, its scope)."""
    groups = sorted(
        {group for cluster in rt.clusters.values() for group in cluster.access.over(rt.config.access).groups}
    )
    if not groups:
        return []
    token = rt.settings.slack_bot_token
    if token is None:
        return [CheckResult(name="slack user groups", ok=False, detail=NO_SLACK_BOT)]
    client = WebClient(token=token.get_secret_value(), base_url=rt.settings.slack_api_url, retry_handlers=[])
    resolver = UserGroups(client=client, redis_client=rt.redis, keys=rt.keys)

    def members(group: str) -> str:
        return f"{len(resolver.ask(group))} member(s)"

    hint = (
        f"the Slack app needs the {GROUPS_SCOPE} bot scope to resolve user groups in access rules "
        "(slack-app-manifest.yml; reinstall the app after adding it)"
    )
    return [_attempt(f"slack user group {group}", partial(members, group), hint=hint) for group in groups]


def _ping(rt: Runtime) -> str:
    rt.redis.ping()  # raises when Redis does not answer
    return f"PING ok ({rt.settings.redis_url.split('@')[-1]})"  # the part after '@' holds no password


def _check_cluster(rt: Runtime, cluster_id: str) -> CheckResult:
    """One API call with the cluster's generation's API; a generation nobody can tell fails its own line."""
    generation = _attempt(f"generation {cluster_id}", lambda: generation_of(rt, cluster_id=cluster_id))
    if not generation.ok:
        return generation
    if generation.detail == "2.0":
        return _attempt(f"ListCommonLogs {cluster_id}", partial(_list_operations, rt, cluster_id))
    return _attempt(f"ListTasks {cluster_id}", partial(_list_tasks, rt, cluster_id))


def _list_operations(rt: Runtime, cluster_id: str) -> str:
    window = rt.ehpc2024(cluster_id).list_operations(cluster_id, watermark=None, lookback=3600)
    return f"E-HPC 2.0: {len(window.tasks)} operation(s) in the last hour"


def _credentials(rt: Runtime) -> CheckResult:
    """Resolve the credentials once (they are the same for every region): found, or what to set."""
    client = rt.ehpc(next(iter(rt.clusters))) if rt.clusters else rt.ehpc_in(rt.settings.region)
    try:
        kind = client.credential_kind()
    except EhpcError as error:
        detail = NO_CREDENTIALS if error.code == "CredentialsUnavailable" else _one_line(str(error))
        return CheckResult(name="credentials", ok=False, detail=detail)
    return CheckResult(name="credentials", ok=True, detail=f"found ({kind})")


def _list_tasks(rt: Runtime, cluster_id: str) -> str:
    running = rt.ehpc(cluster_id).list_running(cluster_id)
    return f"{len(running)} running task(s)"


def _setup_problems(rt: Runtime, name: str) -> list[str]:
    """What a target lacks before it can be tried (Slack: the token, a channel for some cluster)."""
    found = rt.setup_problems(target_name=name)
    lines = []
    for variable in dict.fromkeys(problem.variable for problem in found):
        lacking = [p.cluster_id for p in found if p.variable == variable and p.cluster_id]
        hint = _HINTS.get(variable, f"{variable} is not set")
        lines.append(hint + (f" (needed for {', '.join(lacking)})" if lacking else ""))
    return lines


def _target(rt: Runtime, name: str, cluster_id: str) -> str:
    notifier = rt.notifier(target_name=name, cluster_id=cluster_id)
    check = getattr(notifier, "check", None)
    if check is None:
        return "configured (this vendor has no harmless call to test credentials)"
    return str(check())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _configuration_problems(error: Exception) -> list[str]:
    """A configuration that can't be loaded, as one line per problem (never a secret's value)."""
    if isinstance(error, ConfigError):
        return [_one_line(problem) for problem in error.problems] or [_one_line(str(error))]
    if isinstance(error, ValidationError):
        return [
            f"{'.'.join(str(part) for part in problem['loc']) or 'settings'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        ]
    return [_one_line(f"{type(error).__name__}: {error}")]


def run_check() -> int:
    """Print the table; returns 0 when everything passed, 1 otherwise."""
    quiet_sdk_loggers()
    try:
        rt = Runtime.from_settings(Settings())
    except (ValidationError, ValueError, OSError, redis.RedisError) as error:
        for problem in _configuration_problems(error):
            print(f"FAIL  configuration  {problem}")
        return 1
    # The masked handler for what is logged while checking; the table is the output, so warnings only.
    configure_logging(level=os.environ.get("EHPC_LOG_LEVEL") or "WARNING")
    results = run_checks(rt)
    width = max(len(result.name) for result in results)
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'}  {result.name:<{width}}  {result.detail}")
    failed = sum(not result.ok for result in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
