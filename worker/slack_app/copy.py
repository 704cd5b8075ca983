"""The app's own words: refusals and channel links, with everything from outside escaped."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from integrations.slack.answers import render_notice
from integrations.slack.links import is_channel_id
from integrations.slack.render import SlackMessage, escape
from worker.slack_app.access import AskWhom, ClusterAccess, Decision, Requester

__all__ = ["channel_link", "cluster_name", "refusal", "refusal_no_cluster"]

log = logging.getLogger(__name__)


def channel_link(channel: str) -> str:
    """A channel as Slack shows it: ``<#C0123>`` for an ID, ``#name`` for a name."""
    if is_channel_id(channel):
        return f"<#{channel}>"
    return escape("#" + channel.lstrip("#"))


def cluster_name(clusters: Sequence[ClusterAccess], cluster_id: str) -> str:
    return next((cluster.name for cluster in clusters if cluster.cluster_id == cluster_id), cluster_id)


def refusal(cluster_id: str, decision: Decision) -> SlackMessage:
    """A private "no": what was refused, why, and whom to ask."""
    ask = ask_whom(decision.ask)
    return render_notice(
        f":no_entry_sign: Sorry, I can't do that for cluster `{escape(cluster_id)}`: "
        f"{escape(decision.reason)}.{' ' + ask if ask else ''}"
    )


def ask_whom(ask: AskWhom) -> str:
    """ "Ask …" naming the contact, else the people, groups or channels that may (mrkdwn, escaped)."""
    if ask.contact:
        return f"Ask {escape(ask.contact)}."
    # IDs were validated by the configuration (U…, S…), so their mentions are safe as they are
    names = [f"<@{user}>" for user in ask.users] + [f"<!subteam^{group}>" for group in ask.groups]
    if names:
        return f"Ask {_either(names[:10])} if you need it."
    if ask.channels:
        return f"Ask in {_either([channel_link(channel) for channel in ask.channels[:10]])}."
    return ""


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def refusal_no_cluster(requester: Requester, *, contact: str = "") -> SlackMessage:
    log.warning(
        "refused a lookup to user %s in channel %s: no cluster visible",
        requester.user_id,
        requester.channel_id,
    )
    return render_notice(
        ":no_entry_sign: Sorry, no watched cluster belongs to this channel "
        "(or you may not look them up from here)." + (f" Ask {escape(contact)}." if contact else "")
    )
