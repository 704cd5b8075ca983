"""EhpcClient's errors: every code to the right class, transport faults, and no secret in any text.

Most answers come from the simulator; codes it can't send (unknown ones, odd bodies, a server echoing
our credentials back) come from a small stand-in server defined here.
"""

from __future__ import annotations

import json
import logging
import pickle
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

import pytest

from integrations.ehpc.client import EhpcClient
from integrations.ehpc.errors import EhpcError, PermanentEhpcError, RetryableEhpcError
from integrations.ehpc.simulator import Fault, SimulatorServer
from integrations.ehpc.simulator.errors import ERRORS

R, P = RetryableEhpcError, PermanentEhpcError
EXPECTED: dict[str, type[EhpcError]] = {
    "InvalidParams": P,
    "MissingClusterId": P,
    "MissingFrom": P,
    "MissingTo": P,
    "MissingLogRequestId": P,
    "NotEnabled": P,
    "ClusterNotFound": P,
    "DbError": R,
    "RedisError": R,
    "NotAuthorized": P,
    "UnknownError": R,
    "ServiceUnavailable": R,
    "Throttling": R,
    "Throttling.User": R,
    "Throttling.Api": R,
    "InvalidAccessKeyId.NotFound": P,
    "SignatureDoesNotMatch": P,
    "IncompleteSignature": P,
    "InvalidTimeStamp.Expired": P,
    "InvalidTimeStamp.Format": P,
    "SignatureNonceUsed": P,
    "InvalidSecurityToken.MismatchWithAccessKey": P,
    "InvalidAction.NotFound": P,
    "InvalidVersion": P,
}

SECRET = "hostile/Secret+99=="
TOKEN = "CAIS+sts/Token=with&odd chars"


def test_the_table_covers_every_error_the_simulator_knows() -> None:
    assert set(EXPECTED) == set(ERRORS)


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_error_code_maps_to_its_class(
    simulator: SimulatorServer, cluster: str, client: EhpcClient, code: str, expected: type[EhpcError]
) -> None:
    simulator.simulator.inject(Fault.error(code))

    with pytest.raises(EhpcError) as caught:
        client.list_running(cluster)

    err = caught.value
    assert type(err) is expected
    assert (err.code, err.http_status) == (code, ERRORS[code].status)
    assert err.request_id == simulator.simulator.requests[-1].request_id
    assert err.message == ERRORS[code].message.replace("%s", "").rstrip()


@pytest.mark.parametrize(("retry_after_ms", "seconds"), [(1500, 1.5), (None, None)])
def test_throttling_carries_the_servers_retry_after(
    simulator: SimulatorServer,
    cluster: str,
    client: EhpcClient,
    retry_after_ms: int | None,
    seconds: float | None,
) -> None:
    simulator.simulator.inject(Fault.error("Throttling.User", retry_after_ms=retry_after_ms))

    with pytest.raises(RetryableEhpcError) as caught:
        client.list_running(cluster)

    assert (caught.value.code, caught.value.retry_after) == ("Throttling.User", seconds)


def test_unknown_cluster(simulator: SimulatorServer, client: EhpcClient) -> None:
    with pytest.raises(PermanentEhpcError) as caught:
        client.list_running("ehpc-hz-nothere")

    assert (caught.value.code, caught.value.http_status) == ("ClusterNotFound", 404)


def test_wrong_secret_is_refused_without_echoing_it(simulator: SimulatorServer, cluster: str) -> None:
    client = EhpcClient(
        endpoint=simulator.endpoint, access_key_id="testAccessKeyId", access_key_secret=SECRET
    )

    with pytest.raises(PermanentEhpcError) as caught:
        client.list_running(cluster)

    assert caught.value.code == "SignatureDoesNotMatch"
    assert "string to sign" in caught.value.message
    assert_no_secret(caught.value)


def test_unknown_access_key(simulator: SimulatorServer, cluster: str) -> None:
    client = EhpcClient(
        endpoint=simulator.endpoint, access_key_id="someoneElse", access_key_secret="testSecret"
    )

    with pytest.raises(PermanentEhpcError) as caught:
        client.list_running(cluster)

    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_slow_answer_times_out(simulator: SimulatorServer, cluster: str) -> None:
    client = EhpcClient(
        endpoint=simulator.endpoint,
        access_key_id="testAccessKeyId",
        access_key_secret="testSecret",
        read_timeout_ms=100,
    )
    simulator.simulator.inject(Fault.slow(0.5))

    with pytest.raises(RetryableEhpcError) as caught:
        client.list_running(cluster)

    assert (caught.value.code, caught.value.http_status) == ("Timeout", None)
    assert client.api_calls == 1  # the SDK did not retry on its own


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.drop(), "ConnectionError"),
        (Fault.html_502(), "NonJsonBody"),
        (Fault.bad_shape(), "UnexpectedShape"),
    ],
)
def test_unusable_answers_are_retryable(
    simulator: SimulatorServer, cluster: str, client: EhpcClient, fault: Fault, code: str
) -> None:
    simulator.simulator.inject(fault)

    with pytest.raises(RetryableEhpcError) as caught:
        client.list_running(cluster)

    assert caught.value.code == code
    assert len(simulator.simulator.requests) == 1


def test_error_mid_listing_stops_the_listing(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    simulator.simulator.add_tasks(cluster, 60, status="Processing")
    pages = client.iter_running_pages(cluster)
    assert len(next(pages)) == 50
    simulator.simulator.inject(Fault.error("ServiceUnavailable"))

    with pytest.raises(RetryableEhpcError):
        next(pages)


def test_errors_survive_pickling(simulator: SimulatorServer, cluster: str, client: EhpcClient) -> None:
    simulator.simulator.inject(Fault.error("Throttling", retry_after_ms=2000))

    with pytest.raises(RetryableEhpcError) as caught:
        client.list_running(cluster)

    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes; Celery pickles errors
    assert type(copy) is RetryableEhpcError
    fields = ("code", "http_status", "request_id", "message", "retry_after")
    assert [getattr(copy, f) for f in fields] == [getattr(caught.value, f) for f in fields]


def test_sdk_exception_does_not_ride_along(
    simulator: SimulatorServer, cluster: str, client: EhpcClient
) -> None:
    simulator.simulator.inject(Fault.drop())

    with pytest.raises(RetryableEhpcError) as caught:
        client.list_running(cluster)

    # the SDK's exception holds the signed request (security token included): it must not be chained
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# -- a stand-in for answers the simulator won't give ------------------------------------------------------


@dataclass
class StandIn:
    """A local HTTP server answering every request with ``status`` and a JSON error body."""

    endpoint: str = ""
    status: int = 400
    code: str = "Unknown"
    body: bytes | None = None  # overrides the JSON error body
    echo: Callable[[str], str] | None = None  # puts the request (URL and headers), so encoded, into Message
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    """A started :class:`StandIn` on 127.0.0.1, any free port."""
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = self.path + "\n" + "".join(f"{k}:{v}\n" for k, v in self.headers.items())
            state.seen.append(request)
            message = "server string to sign is:" + (state.echo(request) if state.echo else "")
            body = (
                state.body
                or json.dumps(
                    {
                        "RequestId": "STAND-IN-1",
                        "HostId": "h",
                        "Code": state.code,
                        "Message": message if state.echo else "no",
                    }
                ).encode()
            )
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``state.seen`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def stand_in_client(stand_in: StandIn, *, signature_algorithm: str | None = None) -> EhpcClient:
    return EhpcClient(
        endpoint=stand_in.endpoint,
        access_key_id="testAccessKeyId",
        access_key_secret=SECRET,
        security_token=TOKEN,
        signature_algorithm=signature_algorithm,
    )


@pytest.mark.parametrize(("status", "expected"), [(502, R), (504, R), (418, P), (403, P)])
def test_unknown_code_is_classed_by_status(stand_in: StandIn, status: int, expected: type[EhpcError]) -> None:
    stand_in.status, stand_in.code = status, "Brand.NewCode"

    with pytest.raises(EhpcError) as caught:
        stand_in_client(stand_in).list_running("ehpc-hz-any")

    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.http_status, caught.value.request_id) == (
        "Brand.NewCode",
        status,
        "STAND-IN-1",
    )


def test_error_body_of_the_wrong_shape_is_retryable(stand_in: StandIn) -> None:
    stand_in.status, stand_in.body = 500, b'["not", "an", "object"]'

    with pytest.raises(RetryableEhpcError) as caught:
        stand_in_client(stand_in).list_running("ehpc-hz-any")

    assert caught.value.code == "UnexpectedShape"


def test_success_body_of_the_wrong_types_is_retryable(stand_in: StandIn) -> None:
    stand_in.status, stand_in.body = 200, b'{"RequestId": "R", "TotalCount": "many", "Tasks": []}'

    with pytest.raises(RetryableEhpcError) as caught:
        stand_in_client(stand_in).list_running("ehpc-hz-any")

    assert (caught.value.code, caught.value.request_id) == ("UnexpectedShape", "R")
    assert "TotalCount" in caught.value.message


def raw(text: str) -> str:
    return text


def once(text: str) -> str:
    return quote(text, safe="")


def twice(text: str) -> str:
    return quote(quote(text, safe=""), safe="")


@pytest.mark.parametrize("echo", [raw, once, twice])
@pytest.mark.parametrize("signature_algorithm", [None, "v2"])
def test_secret_and_token_never_leave_in_errors_or_logs(
    stand_in: StandIn,
    caplog: pytest.LogCaptureFixture,
    signature_algorithm: str | None,
    echo: Callable[[str], str],
) -> None:
    stand_in.status, stand_in.code, stand_in.echo = 400, "SignatureDoesNotMatch", echo
    caplog.set_level(logging.DEBUG)
    client = stand_in_client(stand_in, signature_algorithm=signature_algorithm)

    with pytest.raises(PermanentEhpcError) as caught:
        client.list_running("ehpc-hz-any")
    logging.getLogger("test").exception("as a worker would log it", exc_info=caught.value)

    assert any(form in stand_in.seen[0] for form in forms(TOKEN))  # the token was sent and echoed...
    assert "***" in caught.value.message
    assert_no_secret(caught.value)  # ...but it does not come back out
    for text in (caplog.text, *(r.getMessage() for r in caplog.records)):
        assert_not_in(text)


def assert_no_secret(err: EhpcError) -> None:
    """Neither the secret nor the token, raw or encoded, in any text the error can produce."""
    for text in (str(err), repr(err), err.message, repr(err.args), pickle.dumps(err).decode("latin-1")):
        assert_not_in(text)


def forms(value: str) -> set[str]:
    """``value`` raw, encoded once (RFC 3986 or form style) and twice."""
    encoded = {quote(value, safe=""), quote_plus(value, safe="")}
    return {value, *encoded, *(quote(e, safe="") for e in encoded)}


def assert_not_in(text: str) -> None:
    for value in (SECRET, TOKEN):
        for form in forms(value):
            assert form not in text
