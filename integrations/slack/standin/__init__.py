"""The Slack stand-in: Slack's Web API on a local port, and a web page that draws what it received.

:mod:`.server` answers the Web API and stores the messages; :mod:`.page` draws them (with :mod:`.mrkdwn`
and :mod:`.emoji`) and ``static/`` keeps the page live; :mod:`.cli` runs it as a service
(``python -m integrations.slack.standin`` or ``ehpc-bridge slack-standin``).
"""

from integrations.slack.standin.server import (
    Changes,
    RecordedRequest,
    SlackStandIn,
    StoredMessage,
    format_message,
)

__all__ = ["Changes", "RecordedRequest", "SlackStandIn", "StoredMessage", "format_message"]
