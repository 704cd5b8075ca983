"""SlackNotifier against the Slack stand-in, spoken to by the real slack-sdk, with refs in a real Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import pytest
import redis

from integrations.base import MessageRef, PermanentDeliveryError, RetryableDeliveryError, TransitionKind
from integrations.ehpc.task import Instance, TaskError, TaskStatus
from integrations.slack.notifier import SlackNotifier
from integrations.slack.render import render_cluster_problem
from integrations.slack.standin import SlackStandIn
from tests.fixtures.slack import make_transition
from worker.deliver.message_refs import RedisMessageRefs
from worker.store.keys import Keys

TOKEN = "xoxb-1234-test-secret-token"
CHANNEL = "C0EHPC"
STARTED = make_transition(TransitionKind.STARTED, sequence=1, current_step=1)
PROGRESSED = make_transition(TransitionKind.PROGRESSED, sequence=2, current_step=6)
FINISHED = make_transition(
    TransitionKind.FINISHED,
    sequence=3,
    current_step=10,
    status=TaskStatus.SUCCESS,
    instances=(Instance(hostname="compute7", instance_id="i-7"),),
)


class Crash(Exception):
    """Stands for a worker killed right after Slack accepted a message."""


class CrashingRefs(RedisMessageRefs):
    """Refs whose writes die, as a worker killed between posting and recording would."""

    def put(self, task_key: str, ref: MessageRef) -> None:
        raise Crash

    def put_reply(self, task_key: str, fingerprint: str, ts: str) -> None:
        raise Crash


@pytest.fixture
def refs(redis_client: redis.Redis, redis_prefix: str) -> RedisMessageRefs:
    return RedisMessageRefs(
        client=redis_client, key_for=partial(Keys(redis_prefix).slack_message, destination="slack")
    )


@pytest.fixture
def make_notifier(slack_standin: SlackStandIn, refs: RedisMessageRefs) -> Callable[..., SlackNotifier]:
    def build(
        *,
        token: str = TOKEN,
        store: RedisMessageRefs = refs,
        timeout: int = 10,
        on_history_refused: Callable[[str, str], None] | None = None,
    ) -> SlackNotifier:
        return SlackNotifier(
            token=token,
            channel=CHANNEL,
            refs=store,
            base_url=slack_standin.base_url,
            timeout=timeout,
            on_history_refused=on_history_refused,
        )

    return build


def test_first_transition_posts_one_parent_message_with_task_metadata(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], refs: RedisMessageRefs
) -> None:
    make_notifier().send(STARTED)

    [message] = slack_standin.messages(CHANNEL)
    assert "Adding compute nodes" in message.text
    assert message.metadata == {
        "event_type": "ehpc_task",
        "event_payload": {
            "task_key": STARTED.task_key,
            "fingerprint": STARTED.fingerprint,
            "sequence": 1,
            # What a rebuild after a state loss needs to follow the task again:
            "status": "Processing",
            "step": 1,
            "total": 10,
            "first_seen": STARTED.first_seen.timestamp(),
            "final": False,
        },
    }
    assert refs.get(STARTED.task_key) == MessageRef(channel=CHANNEL, ts=message.ts, sequence=1)


def test_progress_edits_the_same_message_in_place(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(PROGRESSED)

    [message] = slack_standin.messages(CHANNEL)
    assert "6/10" in message.text
    assert len(message.edits) == 1
    assert slack_standin.replies(CHANNEL, message.ts) == []


def test_final_state_updates_the_parent_and_replies_once_even_when_redelivered(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(FINISHED)
    notifier.send(FINISHED)  # a retried delivery

    [message] = slack_standin.messages(CHANNEL)
    assert ":white_check_mark:" in message.blocks[0]["text"]["text"]
    [reply] = slack_standin.replies(CHANNEL, message.ts)
    assert "compute7" in reply.text
    assert reply.metadata is not None
    assert reply.metadata["event_payload"]["fingerprint"] == FINISHED.fingerprint


def test_stalled_posts_one_thread_warning(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    stalled = make_transition(TransitionKind.STALLED, sequence=2, current_step=1)
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(stalled)
    notifier.send(stalled)

    [message] = slack_standin.messages(CHANNEL)
    [warning] = slack_standin.replies(CHANNEL, message.ts)
    assert "stalled" in warning.text


def test_lost_edits_the_parent_and_replies_once_with_the_last_seen_state(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    lost = make_transition(TransitionKind.LOST, sequence=2, current_step=3)
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(lost)
    notifier.send(lost)

    [message] = slack_standin.messages(CHANNEL)
    [notice] = slack_standin.replies(CHANNEL, message.ts)
    assert "No longer reported by E-HPC" in message.text
    assert "E-HPC no longer reports this task; last seen Processing 3/10" in notice.text


def test_an_older_sequence_never_overwrites_a_newer_one(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(FINISHED)
    notifier.send(PROGRESSED)  # arrives late

    [message] = slack_standin.messages(CHANNEL)
    assert ":white_check_mark:" in message.blocks[0]["text"]["text"]
    assert len(message.edits) == 1


def test_crash_between_post_and_record_adopts_the_posted_parent(
    slack_standin: SlackStandIn,
    make_notifier: Callable[..., SlackNotifier],
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    key_for = partial(Keys(redis_prefix).slack_message, destination="slack")
    with pytest.raises(Crash):
        make_notifier(store=CrashingRefs(client=redis_client, key_for=key_for)).send(STARTED)

    make_notifier().send(STARTED)  # the redelivery after the worker restarted

    [message] = slack_standin.messages(CHANNEL)
    assert len(message.edits) == 1  # adopted and brought up to date, not posted twice


def test_crash_between_reply_and_record_adopts_the_posted_reply(
    slack_standin: SlackStandIn,
    make_notifier: Callable[..., SlackNotifier],
    refs: RedisMessageRefs,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    make_notifier().send(STARTED)
    crashing = CrashingRefs(
        client=redis_client, key_for=partial(Keys(redis_prefix).slack_message, destination="slack")
    )
    ref = refs.get(STARTED.task_key)
    assert ref is not None
    refs.put(STARTED.task_key, MessageRef(channel=ref.channel, ts=ref.ts, sequence=FINISHED.sequence))
    with pytest.raises(Crash):
        make_notifier(store=crashing).send(FINISHED)

    make_notifier().send(FINISHED)

    [message] = slack_standin.messages(CHANNEL)
    assert len(slack_standin.replies(CHANNEL, message.ts)) == 1
    assert refs.reply(FINISHED.task_key, FINISHED.fingerprint) is not None


def test_digest_marks_tasks_delivered_and_parents_are_still_brought_up_to_date(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    other = make_transition(TransitionKind.FINISHED, sequence=1, task_id="task-2", status=TaskStatus.FAIL)
    notifier = make_notifier()
    notifier.send(STARTED)

    notifier.send_digest(transitions=[FINISHED, other], now=FINISHED.observed_at, digest_id="d1")
    notifier.send(FINISHED)  # edits the parent in place; the digest was its reply
    notifier.send(other)  # no parent: the digest said it all

    parent, digest = slack_standin.messages(CHANNEL)
    assert "2 E-HPC tasks finished" in digest.text
    assert ":white_check_mark:" in parent.blocks[0]["text"]["text"]
    assert slack_standin.replies(CHANNEL, parent.ts) == []


@pytest.mark.parametrize(
    ("scenario", "expected", "retry_after"),
    [
        ({"status": 429, "error": "ratelimited", "retry_after": 7}, RetryableDeliveryError, 7.0),
        ({"status": 500, "error": "internal_error"}, RetryableDeliveryError, None),
        ({"status": 503, "error": "service_unavailable"}, RetryableDeliveryError, None),
        ({"status": 200, "error": "channel_not_found"}, PermanentDeliveryError, None),
        ({"status": 200, "error": "is_archived"}, PermanentDeliveryError, None),
    ],
)
def test_slack_errors_map_to_retryable_or_permanent(
    slack_standin: SlackStandIn,
    make_notifier: Callable[..., SlackNotifier],
    scenario: dict[str, object],
    expected: type[Exception],
    retry_after: float | None,
) -> None:
    slack_standin.fail_next(**scenario)  # type: ignore[arg-type]

    with pytest.raises(expected) as caught:
        make_notifier().send(STARTED)

    assert getattr(caught.value, "retry_after", None) == retry_after
    assert slack_standin.messages(CHANNEL) == []


@pytest.mark.parametrize(
    ("token", "expected", "retry_after"),
    [
        ("xoxb-ratelimited-secret", RetryableDeliveryError, 3.0),
        ("xoxb-server-error-secret", RetryableDeliveryError, None),
        ("xoxb-invalid-secret", PermanentDeliveryError, None),
    ],
)
def test_token_scenarios_map_errors_and_the_token_is_never_logged(
    make_notifier: Callable[..., SlackNotifier],
    caplog: pytest.LogCaptureFixture,
    token: str,
    expected: type[Exception],
    retry_after: float | None,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(expected) as caught:
        make_notifier(token=token).send(STARTED)

    assert getattr(caught.value, "retry_after", None) == retry_after
    assert token not in str(caught.value)
    assert token not in caplog.text
    assert "secret" not in caplog.text


def test_successful_delivery_never_logs_the_token(
    make_notifier: Callable[..., SlackNotifier], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(FINISHED)

    assert "posted the message of task" in caplog.text
    assert TOKEN not in caplog.text


def test_unreachable_slack_is_retryable(refs: RedisMessageRefs) -> None:
    with SlackStandIn() as gone:
        base_url = gone.base_url
    notifier = SlackNotifier(token=TOKEN, channel=CHANNEL, refs=refs, base_url=base_url)

    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)


def test_a_refused_connection_sent_nothing_so_the_retry_posts_without_a_lookup(
    slack_standin: SlackStandIn, refs: RedisMessageRefs, make_notifier: Callable[..., SlackNotifier]
) -> None:
    with SlackStandIn() as gone:
        base_url = gone.base_url
    with pytest.raises(RetryableDeliveryError):
        SlackNotifier(token=TOKEN, channel=CHANNEL, refs=refs, base_url=base_url).send(STARTED)

    make_notifier().send(STARTED)

    assert len(slack_standin.messages(CHANNEL)) == 1
    assert lookups(slack_standin) == []


def test_check_calls_auth_test(make_notifier: Callable[..., SlackNotifier]) -> None:
    assert make_notifier().check() == "ehpc-bridge stand-in / ehpc-bridge"


def test_partial_failure_reply_names_the_failed_nodes(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    partial_fail = make_transition(
        TransitionKind.FINISHED,
        sequence=2,
        status=TaskStatus.PARTIAL_FAIL,
        errors=(TaskError(code="NodeFailed", message="<!channel> boot timeout", instance_id="i-bad"),),
    )
    notifier = make_notifier()
    notifier.send(STARTED)
    notifier.send(partial_fail)

    [message] = slack_standin.messages(CHANNEL)
    [reply] = slack_standin.replies(CHANNEL, message.ts)
    assert "i-bad" in reply.text
    assert "`NodeFailed` &lt;!channel&gt; boot timeout" in reply.text  # shown, and escaped: no ping


def test_a_deleted_parent_message_is_posted_again_on_the_next_change(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], refs: RedisMessageRefs
) -> None:
    notifier = make_notifier()
    notifier.send(STARTED)
    [deleted] = slack_standin.messages(CHANNEL)
    slack_standin.delete(CHANNEL, deleted.ts)

    notifier.send(FINISHED)

    [message] = slack_standin.messages(CHANNEL)
    assert message.ts != deleted.ts
    assert len(slack_standin.replies(CHANNEL, message.ts)) == 1
    assert refs.get(FINISHED.task_key) == MessageRef(
        channel=CHANNEL, ts=message.ts, sequence=FINISHED.sequence
    )


def test_a_digest_posted_before_a_crash_is_not_posted_again(
    slack_standin: SlackStandIn,
    make_notifier: Callable[..., SlackNotifier],
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    crashing = CrashingRefs(
        client=redis_client, key_for=partial(Keys(redis_prefix).slack_message, destination="slack")
    )
    with pytest.raises(Crash):
        make_notifier(store=crashing).send_digest(
            transitions=[FINISHED], now=FINISHED.observed_at, digest_id="d1"
        )

    make_notifier().send_digest(transitions=[FINISHED], now=FINISHED.observed_at, digest_id="d1")

    assert len(slack_standin.messages(CHANNEL)) == 1


def test_post_sends_a_standalone_message(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    problem = render_cluster_problem(
        cluster_name="genomics", code="NotAuthorized", message="<!channel> denied"
    )

    ts = make_notifier().post(problem, event_type="ehpc_cluster_problem", key="ehpc-hz-1/NotAuthorized")

    [message] = slack_standin.messages(CHANNEL)
    assert message.ts == ts
    assert message.metadata is not None
    assert message.metadata["event_type"] == "ehpc_cluster_problem"
    assert "<!channel>" not in message.text


def lookups(standin: SlackStandIn) -> list[str]:
    """The history reads the stand-in answered, in order."""
    return [r.api_method for r in standin.requests() if r.api_method.startswith("conversations.")]


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429, "retry_after": 1},
        {"status": 500, "error": "internal_error"},
        {"status": 200, "error": "service_unavailable"},
    ],
    ids=["429", "500", "ok-false"],
)
def test_an_answered_failure_means_nothing_was_posted_so_the_retry_posts_without_a_lookup(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], failure: dict[str, object]
) -> None:
    notifier = make_notifier()
    slack_standin.fail_next(method="chat.postMessage", **failure)  # type: ignore[arg-type]
    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)

    notifier.send(STARTED)

    assert len(slack_standin.messages(CHANNEL)) == 1
    assert lookups(slack_standin) == []


@pytest.mark.parametrize("ambiguity", ["late", "reset"])
def test_no_answer_after_the_post_was_stored_is_resolved_by_a_lookup_not_a_second_post(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], ambiguity: str
) -> None:
    notifier = make_notifier(timeout=1)
    if ambiguity == "late":
        slack_standin.answer_late()
    else:
        slack_standin.reset_after_read()
    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)

    notifier.send(STARTED)

    [message] = slack_standin.messages(CHANNEL)
    assert lookups(slack_standin) == ["conversations.history"]
    assert len(message.edits) == 1  # adopted and brought up to date


def test_a_reset_before_anything_was_stored_looks_then_posts_once(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier()
    slack_standin.reset_after_read(stored=False)
    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)

    notifier.send(STARTED)

    assert len(slack_standin.messages(CHANNEL)) == 1
    assert lookups(slack_standin) == ["conversations.history"]


def test_a_timed_out_final_reply_is_looked_up_in_its_thread(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier(timeout=1)
    notifier.send(STARTED)
    slack_standin.answer_late()  # the reply is the next post
    with pytest.raises(RetryableDeliveryError):
        notifier.send(FINISHED)

    notifier.send(FINISHED)

    [message] = slack_standin.messages(CHANNEL)
    assert len(slack_standin.replies(CHANNEL, message.ts)) == 1
    assert lookups(slack_standin) == ["conversations.replies"]


def test_the_lookup_follows_cursor_pages_past_the_first_200_messages(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier]
) -> None:
    notifier = make_notifier(timeout=1)
    slack_standin.reset_after_read()
    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)
    for number in range(450):  # a busy channel: people talk after the attempt
        notifier.post(
            render_cluster_problem(cluster_name=f"c{number}", code="x", message="y"),
            event_type="chat",
            key="k",
        )

    notifier.send(STARTED)

    task_messages = [m for m in slack_standin.messages(CHANNEL) if "Adding compute nodes" in m.text]
    assert len(task_messages) == 1
    assert lookups(slack_standin) == ["conversations.history"] * 3


@pytest.mark.parametrize("refusal", ["not_in_channel", "missing_scope"])
def test_unreadable_history_posts_anyway_and_is_counted_never_dead_lettered(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], refusal: str
) -> None:
    refused: list[tuple[str, str]] = []
    notifier = make_notifier(
        timeout=1, on_history_refused=lambda channel, code: refused.append((channel, code))
    )
    slack_standin.refuse_history(error=refusal)
    slack_standin.reset_after_read()
    with pytest.raises(RetryableDeliveryError):
        notifier.send(STARTED)

    notifier.send(STARTED)  # no PermanentDeliveryError: at least once beats lost
    notifier.send(FINISHED)

    assert len(slack_standin.messages(CHANNEL)) == 2  # the price, said plainly: shown twice
    assert refused == [(CHANNEL, refusal)]


@pytest.mark.parametrize(
    ("refusal", "words"),
    [
        ("not_in_channel", "not a member (not_in_channel): /invite it"),
        ("missing_scope", "lacks channels:history,groups:history (missing_scope; granted: chat:write"),
    ],
)
def test_check_history_names_the_channel_and_what_is_missing(
    slack_standin: SlackStandIn, make_notifier: Callable[..., SlackNotifier], refusal: str, words: str
) -> None:
    notifier = make_notifier()
    assert notifier.check_history() == f"channel {CHANNEL}: history readable"
    slack_standin.refuse_history(error=refusal)

    with pytest.raises(PermanentDeliveryError) as refused:
        notifier.check_history()

    assert str(refused.value).startswith(f"channel {CHANNEL}: ")
    assert words in str(refused.value)
