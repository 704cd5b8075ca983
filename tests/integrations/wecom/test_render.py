"""WeCom markdown, without HTTP."""

from __future__ import annotations

from integrations.wecom.render import MAX_CONTENT_BYTES, markdown_message
from tests.fixtures.transitions import make_transition

PINGS = '<!channel> @all <at user_id="all">everyone</at> <@zhangsan>'


def test_markdown_message_shape() -> None:
    body = markdown_message(make_transition(status="Success"))
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith('## <font color="info">[E-HPC] Adding compute nodes succeeded on prod</font>')
    assert "**Cluster**: prod (ehpc-hz-prod01)" in content


def test_api_text_pings_nobody() -> None:
    content = markdown_message(make_transition(errors=[{"Message": PINGS}]))["markdown"]["content"]
    for mention in ("<!channel>", "@all", "<at", "<@zhangsan>"):
        assert mention not in content


def test_content_fits_4096_bytes_and_says_what_was_cut() -> None:
    errors = [{"Code": f"E{n}", "Message": "节点启动失败" * 40} for n in range(15)]
    content = markdown_message(make_transition(errors=errors))["markdown"]["content"]
    assert len(content.encode()) <= MAX_CONTENT_BYTES
    assert content.splitlines()[-1].startswith("…and ")
