"""The app's own words: channel links use the one channel-ID rule of the Slack integration."""

from __future__ import annotations

import pytest

from worker.slack_app.copy import channel_link


@pytest.mark.parametrize(
    ("channel", "shown"),
    [
        ("C0HPCOPS1", "<#C0HPCOPS1>"),
        ("G0PRIVATE", "<#G0PRIVATE>"),
        ("D0DIRECT1", "<#D0DIRECT1>"),
        ("#hpc-ops", "#hpc-ops"),
        ("hpc-ops", "#hpc-ops"),
        ("<!here>", "#&lt;!here&gt;"),
    ],
)
def test_a_channel_id_is_linked_and_a_name_is_escaped(channel: str, shown: str) -> None:
    assert channel_link(channel) == shown
