"""The shared text pieces: one duration formatter in the three styles the renderers use, clip, node labels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.ehpc.task import Instance
from integrations.text import clip, duration, node_label


@pytest.mark.parametrize(
    ("seconds", "card", "slack", "ago"),
    [
        (0, "0m 00s", "0s", "0s"),
        (5, "0m 05s", "5s", "5s"),
        (185, "3m 05s", "3m 05s", "3m"),
        (3723, "1h 02m 03s", "1h 02m", "1h"),
        (3 * 86400 + 60, "72h 01m 00s", "72h 01m", "3d"),
        (-5, "0m 00s", "0s", "0s"),
    ],
)
def test_durations_in_each_renderers_style(seconds: int, card: str, slack: str, ago: str) -> None:
    delta = timedelta(seconds=seconds)
    assert duration(delta, minutes=True) == card
    assert duration(delta, parts=2) == slack
    assert duration(delta, parts=1, days=True) == ago


def test_clip_marks_the_cut() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 3) == "abc"


def test_a_node_is_named_by_hostname_with_its_details() -> None:
    node = Instance(instance_id="i-1", hostname="compute0", ip="10.0.0.1", role="compute")
    assert node_label(node) == ("compute0", " (i-1, 10.0.0.1, compute)")
    assert node_label(Instance(instance_id="i-2")) == ("i-2", "")
