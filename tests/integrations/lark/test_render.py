"""Lark interactive cards and signing, without HTTP."""

from __future__ import annotations

import json

from integrations.lark.render import card_message, signature_fields
from tests.fixtures.transitions import make_transition

PINGS = '<!channel> @all <at user_id="all">everyone</at> <at id=all></at>'


def test_signature_matches_an_independent_vector() -> None:
    # printf '' | openssl dgst -sha256 -hmac $'1700000000\nlark-secret-abc' -binary | base64
    fields = signature_fields(secret="lark-secret-abc", timestamp_s=1_700_000_000)
    assert fields == {"timestamp": "1700000000", "sign": "t0NumxOXB/Htc70O7mpPtbVFzQtOUEvh/f+t4wMM7zs="}


def test_card_shape() -> None:
    card = card_message(make_transition())["card"]
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "[E-HPC] Adding compute nodes failed on prod",
    }
    assert card["header"]["template"] == "red"
    texts = [element["text"]["content"] for element in card["elements"]]
    assert "Task ID: task-0001" in texts[0]
    assert texts[1].startswith("Errors:\n• [i-0001] NodeFailed compute0 did not boot")


def test_api_text_is_plain_and_pings_nobody() -> None:
    body = card_message(make_transition(cluster_name="@all", errors=[{"Message": PINGS}]))
    tags = {element["text"]["tag"] for element in body["card"]["elements"]}
    assert tags == {"plain_text"}  # never lark_md: nothing from the API is parsed
    dumped = json.dumps(body, ensure_ascii=False)
    for mention in ("<!channel>", "@all", "<at"):
        assert mention not in dumped
