"""The answers to "what is going on?": ``/ehpc status``, ``history``, ``failures``, *Retry*, App Home.

Every answer is built from Redis alone (:class:`~worker.slack_app.lookup.Lookup`, the dead-letter store)
in a couple of round trips, well inside Slack's 3-second window; nothing here calls E-HPC. *Retry* is the
one exception to "read only": it acks first, then re-delivers on the listener thread
(:class:`~worker.slack_app.failures.Retries`) and answers through ``response_url``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.slack.answers import render_notice
from integrations.slack.commands import ACTION_RETRY, HistoryQuery
from integrations.slack.overview import (
    ClusterStatus,
    FailureEntry,
    HistoryEntry,
    render_failures,
    render_history,
    render_home,
    render_status,
)
from integrations.slack.render import SlackMessage, escape
from worker.slack_app.access import ClusterAccess, Permission, Requester
from worker.slack_app.copy import refusal, refusal_no_cluster
from worker.slack_app.failures import RetryOutcome, letter_time
from worker.slack_app.lookup import BoardRow
from worker.slack_app.services import Services

__all__ = ["Overview", "message_link"]

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def message_link(*, team_domain: str, channel: str, ts: str, requester: Requester) -> str | None:
    """The message's web link (``https://<team>.slack.com/archives/<C…>/p<ts>``), when it can be built
    without asking Slack: the channel must be an ID, or the requester's own channel by name."""
    if channel.lstrip("#") == requester.channel_name and requester.channel_id:
        channel = requester.channel_id
    if not _CHANNEL_ID.match(channel) or not _DOMAIN.match(team_domain) or not re.fullmatch(r"\d+\.\d+", ts):
        return None
    return f"https://{team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


class Overview:
    """Status board, history, failures with *Retry*, and the App Home."""

    def __init__(self, *, services: Services, client: WebClient) -> None:
        self._s = services
        self._client = client

    # slash commands (called from Listeners, which parsed, acks and counts)

    def status(self, clusters: Sequence[ClusterAccess], requester: Requester, *, share: bool) -> SlackMessage:
        """Every cluster this channel may look up (``clusters``), one line each."""
        if not clusters:
            return refusal_no_cluster(requester, contact=self._s.access.contact)
        return render_status(
            clusters=self._board(clusters), now=self._s.now(), share="status" if share else None
        )

    def history(
        self, query: HistoryQuery, requester: Requester, *, team_domain: str, share: bool
    ) -> SlackMessage:
        """The cluster's recently finished tasks, each linked to its message where it can be."""
        decision = self._s.access.check(requester, cluster_id=query.cluster_id, permission=Permission.LOOKUP)
        cluster = self._s.access.cluster(query.cluster_id)
        if not decision.allowed or cluster is None:
            return refusal(query.cluster_id, decision)
        now = self._s.now()
        finished = self._s.lookup.finished(
            query.cluster_id,
            count=query.count,
            since=now - query.within if query.within is not None else None,
            destinations=self._s.directory.targets(query.cluster_id),
        )
        entries = [
            HistoryEntry(
                task=item.record.task,
                first_seen=item.record.first_seen,
                finished_at=item.finished_at,
                link=None
                if item.message is None
                else message_link(
                    team_domain=team_domain, channel=item.message[0], ts=item.message[1], requester=requester
                ),
            )
            for item in finished
        ]
        what = f"last {_span(query.within)}" if query.within is not None else f"newest {query.count}"
        return render_history(
            cluster_id=query.cluster_id,
            cluster_name=cluster.name,
            entries=entries,
            what=what,
            now=now,
            share=query.text() if share else None,
        )

    def failures(self, mutable: Sequence[ClusterAccess]) -> SlackMessage:
        """The dead letters of the clusters the requester may mute from this channel (``mutable``)."""
        clusters = {cluster.cluster_id for cluster in mutable}
        if not clusters:
            return render_notice(
                ":no_entry_sign: Sorry, `/ehpc failures` is for the people who may mute this channel's "
                "clusters." + (f" Ask {escape(self._s.access.contact)}." if self._s.access.contact else "")
            )
        letters = [
            letter for letter in self._s.dead_letters.list() if letter.transition.task.cluster_id in clusters
        ]
        entries = [
            FailureEntry(
                letter_id=letter.entry_id,
                destination=letter.destination,
                at=letter_time(letter),
                error=letter.error,
                transition=letter.transition,
            )
            for letter in letters
        ]
        return render_failures(entries=entries, total=len(entries), retry_action=ACTION_RETRY)

    # the Retry button

    def retry(self, letter_id: str, requester: Requester) -> SlackMessage:
        """*Retry* on a dead letter: authorize on its cluster, then re-deliver it once."""
        letter = self._s.dead_letters.get(letter_id)
        if letter is None:
            return render_notice("That failure was already retried, or is no longer kept.")
        cluster_id = letter.transition.task.cluster_id
        decision = self._s.access.check(requester, cluster_id=cluster_id, permission=Permission.MUTE)
        if not decision.allowed:
            return refusal(cluster_id, decision)
        result = self._s.retries.retry(letter)
        what = f"`{escape(letter.transition.fingerprint)}` to `{escape(letter.destination)}`"
        words = {
            RetryOutcome.DELIVERED: f":white_check_mark: Re-delivered {what}.",
            RetryOutcome.GONE: f"{what} was already re-delivered.",
            RetryOutcome.BUSY: f":hourglass_flowing_sand: A retry of {what} is under way already.",
            RetryOutcome.FAILED: f":x: Retrying {what} failed again: {escape(result.error[:300])}",
        }
        log.info("user %s retried dead letter %s: %s", requester.user_id, letter_id, result.outcome.value)
        return render_notice(words[result.outcome])

    # App Home

    def home_opened(self, event: Mapping[str, Any]) -> None:
        """``app_home_opened``: publish the board of the clusters whose rules name this user."""
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        named, hidden = self._s.access.named_for(user_id)
        view = render_home(clusters=self._board(named), hidden=hidden, now=self._s.now())
        try:
            self._client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            log.warning("could not publish the App Home of %s: %s", user_id, error.response.get("error"))

    # helpers

    def _board(self, clusters: Sequence[ClusterAccess]) -> list[ClusterStatus]:
        rows = [
            BoardRow(cluster.cluster_id, cluster.name, self._s.directory.stale_after(cluster.cluster_id))
            for cluster in clusters
        ]
        return self._s.lookup.board(rows, now=self._s.now())


def _span(within: timedelta) -> str:
    hours = int(within.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
