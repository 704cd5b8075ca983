"""The official SDK, unwrapped, against the simulator: accepted when right, refused as the cloud refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from alibabacloud_ehpc20180412.models import ListTasksRequest
from alibabacloud_tea_openapi.exceptions import ClientException

from integrations.ehpc.simulator import Simulator, SimulatorServer
from integrations.ehpc.simulator.auth import SKEW_SECONDS, Authenticator, Credential, IncomingRequest
from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.signature import v1_signature, v1_string_to_sign
from tests.fixtures.simulator import sdk_client, send_v3


@pytest.mark.parametrize(("algorithm", "style"), [(None, "v3"), ("v2", "v1")])
def test_sdk_is_accepted(simulator: SimulatorServer, cluster: str, algorithm: str | None, style: str) -> None:
    task_id = simulator.simulator.start_task(cluster, "AddComputes")

    response = sdk_client(simulator, algorithm=algorithm).list_tasks(ListTasksRequest(cluster_id=cluster))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert [t.task_id for t in response.body.tasks] == [task_id]
    [record] = simulator.simulator.requests
    assert (record.action, record.style, record.status, record.code) == ("ListTasks", style, 200, None)
    assert record.params == {"ClusterId": cluster}


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_wrong_secret_is_refused_without_echoing_it(
    simulator: SimulatorServer, cluster: str, algorithm: str | None
) -> None:
    client = sdk_client(simulator, algorithm=algorithm, secret="not-the-secret")

    with pytest.raises(ClientException) as caught:
        client.list_tasks(ListTasksRequest(cluster_id=cluster))

    assert (caught.value.status_code, caught.value.code) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:" in caught.value.message
    assert "not-the-secret" not in str(caught.value.data)
    assert "testSecret" not in str(caught.value.data)


def test_unknown_access_key_id(simulator: SimulatorServer, cluster: str) -> None:
    client = sdk_client(simulator, access_key_id="someoneElse")

    with pytest.raises(ClientException) as caught:
        client.list_tasks(ListTasksRequest(cluster_id=cluster))

    assert (caught.value.status_code, caught.value.code) == (404, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("skew", [timedelta(minutes=-16), timedelta(minutes=16)])
def test_clock_skew_over_15_minutes(simulator: SimulatorServer, cluster: str, skew: timedelta) -> None:
    response = send_v3(simulator, {"ClusterId": cluster}, date=datetime.now(UTC) + skew)

    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"


def test_clock_skew_within_15_minutes_is_fine(simulator: SimulatorServer, cluster: str) -> None:
    response = send_v3(simulator, {"ClusterId": cluster}, date=datetime.now(UTC) - timedelta(minutes=14))

    assert response.status_code == 200


def test_replayed_nonce(simulator: SimulatorServer, cluster: str) -> None:
    nonce = uuid.uuid4().hex
    first = send_v3(simulator, {"ClusterId": cluster}, nonce=nonce)
    replay = send_v3(simulator, {"ClusterId": cluster}, nonce=nonce)

    assert first.status_code == 200
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")


def test_a_forged_request_does_not_burn_the_nonce(simulator: SimulatorServer, cluster: str) -> None:
    nonce = uuid.uuid4().hex
    forged = send_v3(simulator, {"ClusterId": cluster}, nonce=nonce, secret="guess")
    genuine = send_v3(simulator, {"ClusterId": cluster}, nonce=nonce)

    assert (forged.json()["Code"], genuine.status_code) == ("SignatureDoesNotMatch", 200)


@pytest.mark.parametrize(
    "authorization",
    [
        "ACS3-HMAC-SHA256 Credential=testAccessKeyId,SignedHeaders=host",
        "HMAC-SHA1 Credential=testAccessKeyId,SignedHeaders=host,Signature=abc",
        # every x-acs-* header must be signed
        "ACS3-HMAC-SHA256 Credential=testAccessKeyId,SignedHeaders=host;x-acs-action,Signature=abc",
    ],
)
def test_malformed_authorization(simulator: SimulatorServer, cluster: str, authorization: str) -> None:
    response = send_v3(simulator, {"ClusterId": cluster}, authorization=authorization)

    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


def test_unsigned_request(simulator: SimulatorServer) -> None:
    response = requests_get(simulator, "/?Action=ListTasks&ClusterId=x")

    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


def test_unknown_action(simulator: SimulatorServer) -> None:
    response = send_v3(simulator, {}, action="ListClusters")

    assert (response.status_code, response.json()["Code"]) == (404, "InvalidAction.NotFound")
    assert simulator.simulator.requests[-1].action == "ListClusters"


def test_other_paths_are_not_the_api(simulator: SimulatorServer) -> None:
    response = requests_get(simulator, "/ListTasks")

    assert (response.status_code, response.json()["Code"]) == (404, "InvalidAction.NotFound")


def test_error_body_shape(simulator: SimulatorServer) -> None:
    body = send_v3(simulator, {}).json()

    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == "MissingClusterId"
    assert body["Message"] == "ClusterId is mandatory for this action."
    assert body["HostId"] == simulator.host_port


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_sts_token_when_configured(algorithm: str | None) -> None:
    server = SimulatorServer(
        simulator=Simulator(), access_key_id="STS.id", access_key_secret="stsSecret", security_token="tok"
    )
    with server:
        server.simulator.add_cluster("ehpc-hz-sts")
        good = sdk_client(
            server, algorithm=algorithm, access_key_id="STS.id", secret="stsSecret", security_token="tok"
        )
        bad = sdk_client(
            server, algorithm=algorithm, access_key_id="STS.id", secret="stsSecret", security_token="other"
        )

        assert good.list_tasks(ListTasksRequest(cluster_id="ehpc-hz-sts")).status_code == 200
        with pytest.raises(ClientException) as caught:
            bad.list_tasks(ListTasksRequest(cluster_id="ehpc-hz-sts"))
        assert caught.value.code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "envId")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "envSecret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)

    with SimulatorServer(simulator=Simulator()) as server:
        server.simulator.add_cluster("ehpc-hz-env")
        client = sdk_client(server, access_key_id="envId", secret="envSecret")
        assert client.list_tasks(ListTasksRequest(cluster_id="ehpc-hz-env")).status_code == 200


def test_no_credentials_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)

    with pytest.raises(ValueError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        SimulatorServer(simulator=Simulator())


def requests_get(server: SimulatorServer, path: str) -> requests.Response:
    return requests.get(f"{server.endpoint}{path}", timeout=5)


def v1_request(*, when: datetime, nonce: str) -> IncomingRequest:
    """A V1-signed ListTasks request as the server would read it."""
    params = {
        "Action": "ListTasks",
        "Version": "2018-04-12",
        "Format": "json",
        "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SignatureNonce": nonce,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": "testAccessKeyId",
        "ClusterId": "ehpc-hz-v1",
    }
    string_to_sign = v1_string_to_sign(method="GET", params=params)
    params["Signature"] = v1_signature(secret="testSecret", string_to_sign=string_to_sign)
    return IncomingRequest(method="GET", path="/", query=params, headers={"host": "127.0.0.1"})


@pytest.fixture
def wall() -> list[float]:
    return [datetime(2026, 1, 1, tzinfo=UTC).timestamp()]


@pytest.fixture
def authenticator(wall: list[float]) -> Authenticator:
    return Authenticator([Credential("testAccessKeyId", "testSecret")], wall=lambda: wall[0])


def test_v1_accepted_with_business_params_only(authenticator: Authenticator, wall: list[float]) -> None:
    verified = authenticator.verify(v1_request(when=datetime.fromtimestamp(wall[0], UTC), nonce="n1"))

    assert (verified.style, verified.action) == ("v1", "ListTasks")
    assert verified.params == {"ClusterId": "ehpc-hz-v1"}


@pytest.mark.parametrize(
    ("shift", "nonce_again", "code"),
    [
        (timedelta(minutes=-16), False, "InvalidTimeStamp.Expired"),
        (timedelta(0), True, "SignatureNonceUsed"),
    ],
)
def test_v1_timestamp_and_nonce(
    authenticator: Authenticator, wall: list[float], shift: timedelta, nonce_again: bool, code: str
) -> None:
    now = datetime.fromtimestamp(wall[0], UTC)
    if nonce_again:
        authenticator.verify(v1_request(when=now, nonce="n1"))

    with pytest.raises(ApiError) as caught:
        authenticator.verify(v1_request(when=now + shift, nonce="n1"))

    assert caught.value.code == code


def test_nonces_are_forgotten_after_the_window(authenticator: Authenticator, wall: list[float]) -> None:
    authenticator.verify(v1_request(when=datetime.fromtimestamp(wall[0], UTC), nonce="n1"))
    wall[0] += 2 * SKEW_SECONDS + 1

    verified = authenticator.verify(v1_request(when=datetime.fromtimestamp(wall[0], UTC), nonce="n1"))

    assert verified.style == "v1"
