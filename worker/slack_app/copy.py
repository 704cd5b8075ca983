"""The app's own words: refusals and channel links, with everything from outside escaped."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from integrations.slack.answers import render_notice
from integrations.slack.links import is_channel_id
from integrations.slack.render import SlackMessage, escape
from worker.slack_app.access import ClusterAccess, Requester

__all__ = ["channel_link", "cluster_name", "refusal", "refusal_no_cluster"]

log = logging.getLogger(__name__)


def channel_link(channel: str) -> str:
    """A channel as Slack shows it: ``<#C0123>`` for an ID, ``#name`` for a name."""
    if is_channel_id(channel):
        return f"<#{channel}>"
    return escape("#" + channel.lstrip("#"))


def cluster_name(clusters: Sequence[ClusterAccess], cluster_id: str) -> str:
    return next((cluster.name for cluster in clusters if cluster.cluster_id == cluster_id), cluster_id)


def refusal(cluster_id: str, reason: str) -> SlackMessage:
    return render_notice(
        f":no_entry_sign: Sorry, I can't do that for cluster `{escape(cluster_id)}`: {escape(reason)}."
    )


def refusal_no_cluster(requester: Requester) -> SlackMessage:
    log.warning(
        "refused a lookup to user %s in channel %s: no cluster visible",
        requester.user_id,
        requester.channel_id,
    )
    return render_notice(
        ":no_entry_sign: Sorry, no watched cluster belongs to this channel "
        "(or you may not look them up from here)."
    )
