"""DingTalk markdown and signing, without HTTP."""

from __future__ import annotations

from integrations.dingtalk.render import MAX_TEXT_BYTES, markdown_message, signature_params
from tests.fixtures.transitions import make_transition

PINGS = '<!channel> @all <at user_id="all">everyone</at> <@U123> [x](https://evil.example) **b**'


def test_signature_matches_an_independent_vector() -> None:
    # printf '1700000000000\nSECtestsecret0123' | openssl dgst -sha256 -hmac SECtestsecret0123 -binary
    #   | base64
    params = signature_params(secret="SECtestsecret0123", timestamp_ms=1_700_000_000_000)
    assert params == {"timestamp": "1700000000000", "sign": "MTL81BHdjNwxp7xN1Soy610E+qPflnxZ22b6QwS2Ebw="}


def test_markdown_message_shape() -> None:
    body = markdown_message(make_transition())
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "[E-HPC] Adding compute nodes failed on prod"
    text = body["markdown"]["text"]
    assert text.startswith('### <font color="#D0021B">[E-HPC] Adding compute nodes failed on prod</font>')
    assert "**Task ID**: task-0001" in text
    assert "at" not in body  # no @mentions, ever


def test_api_text_pings_nobody_and_formats_nothing() -> None:
    text = markdown_message(make_transition(errors=[{"Message": PINGS}]))["markdown"]["text"]
    for mention in ("<!channel>", "@all", "<at", "<@U123>"):
        assert mention not in text
    assert "\\[x\\](https://evil.example)" in text
    assert "\\*\\*b\\*\\*" in text


def test_text_fits_the_byte_limit_and_says_what_was_cut() -> None:
    errors = [{"Code": f"E{n}", "Message": "节点启动失败" * 80} for n in range(30)]
    text = markdown_message(make_transition(errors=errors))["markdown"]["text"]
    assert len(text.encode()) <= MAX_TEXT_BYTES
    assert text.split("\n\n")[-1].startswith("…and ")
