"""The shared task card: facts, caps, defanging and markdown escaping."""

from __future__ import annotations

from integrations.base import TransitionKind
from integrations.card import (
    MAX_ITEMS,
    defang,
    escape_markdown,
    is_failure,
    is_recovery,
    task_card,
    text_lines,
)
from tests.fixtures.transitions import make_transition


def test_card_facts() -> None:
    card = task_card(make_transition(status="PartialFail"))
    assert card.headline == "Adding compute nodes partly failed on prod"
    assert dict(card.fields)["Steps"] == "4/4"
    assert dict(card.fields)["Elapsed"] == "12m 00s"
    assert card.errors == ("[i-0001] NodeFailed compute0 did not boot",)
    assert card.nodes == ("compute0 (i-0001, 10.0.0.5)",)


def test_unknown_status_is_named() -> None:
    assert task_card(make_transition(status="Exploded")).headline.endswith("in state Exploded on prod")


def test_long_lists_are_capped_and_counted() -> None:
    errors = [{"Message": f"error {n}"} for n in range(50)]
    card = task_card(make_transition(errors=errors))
    assert len(card.errors) == MAX_ITEMS
    assert card.errors[-1] == f"…and {50 - MAX_ITEMS + 1} more"


def test_only_finished_tasks_open_or_recover() -> None:
    assert is_failure(make_transition(status="Fail"))
    assert not is_failure(make_transition(status="Fail", kind=TransitionKind.STALLED))
    assert is_recovery(make_transition(status="Success"))
    assert not is_recovery(make_transition(status="Success", kind=TransitionKind.PROGRESSED))


def test_a_lost_task_is_named_neither_opens_nor_recovers() -> None:
    lost = make_transition(status="Processing", kind=TransitionKind.LOST)

    assert task_card(lost).headline == "Adding compute nodes no longer reported by E-HPC on prod"
    assert not is_failure(lost)
    assert not is_recovery(lost)


def test_defang_breaks_every_mention_syntax() -> None:
    text = defang('<!channel> @all <at user_id="all"></at> <@U1>')
    for mention in ("<!channel>", "@all", "<at", "<@U1>"):
        assert mention not in text
    assert text.replace("\u200b", "") == '<!channel> @all <at user_id="all"></at> <@U1>'


def test_escape_markdown_is_one_inert_line() -> None:
    assert escape_markdown("a\n# *b* _c_ [d](e) `f`") == "a # \\*b\\* \\_c\\_ \\[d\\](e) \\`f\\`"


def test_text_lines_list_fields_then_errors_and_nodes() -> None:
    lines = text_lines(task_card(make_transition()))
    assert lines[0] == "Cluster: prod (ehpc-hz-prod01)"
    assert lines[-6:] == [
        "",
        "Errors:",
        "- [i-0001] NodeFailed compute0 did not boot",
        "",
        "Nodes:",
        "- compute0 (i-0001, 10.0.0.5)",
    ]
