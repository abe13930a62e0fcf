"""Tests of the fault-injecting proxy, with boto3 talking through it to a real moto server."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector
from moto.server import ThreadedMotoServer

from tests.support.proxy import (
    COUNTERS,
    FaultConfig,
    FaultProxy,
    ProxyRequest,
    Rate,
    TokenBucket,
    aws_rates,
    default_classifier,
)

GET_PARAMETER = "AmazonSSM.GetParameter"
# botocore's Config "max_attempts" counts retries (1 means two attempts); "total_max_attempts"
# counts attempts, so 1 shows the proxy's answer directly.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# Only against a hang; no test here depends on how fast the machine is.
HANG_GUARD_S = 300


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        ssm = _client("ssm", url)
        ssm.put_parameter(Name="/proxy/greeting", Value="hello", Type="String")
        sm = _client("secretsmanager", url)
        sm.create_secret(Name="proxy/secret", SecretString="not-a-real-secret")
        yield url
    finally:
        server.stop()


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


def _client(service: str, endpoint_url: str, config: Config | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config or NO_RETRY,
    )


def _get_greeting(ssm: Any) -> str:
    value: str = ssm.get_parameter(Name="/proxy/greeting")["Parameter"]["Value"]
    return value


def test_forwards_and_adds_latency(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pauses the proxy makes are recorded, not timed: half before forwarding, half after.
    pauses: list[float] = []
    pause = proxy._sleep
    monkeypatch.setattr(proxy, "_sleep", lambda seconds: (pauses.append(seconds), pause(seconds)))
    proxy.configure(latency_s=0.02)
    ssm = _client("ssm", proxy.url)
    assert _get_greeting(ssm) == "hello"
    assert pauses == [0.01, 0.01]
    assert proxy.stats()[GET_PARAMETER]["forwarded"] == 1


def test_keeps_client_connections_alive(proxy: FaultProxy) -> None:
    ssm = _client("ssm", proxy.url)
    for _ in range(3):
        assert _get_greeting(ssm) == "hello"
    assert proxy.connections_accepted == 1


def test_throttles_after_burst_with_aws_throttling_error(proxy: FaultProxy) -> None:
    # A full bucket of 5 that refills too slowly to matter (one token in 10^6 s): exactly five
    # pass however long the loop takes. Refilling is tested on a fake clock (TokenBucket).
    proxy.configure(throttle={"ssm": Rate(1e-6, burst=5)})
    ssm = _client("ssm", proxy.url)
    outcomes = []
    for _ in range(10):
        try:
            _get_greeting(ssm)
            outcomes.append("ok")
        except ClientError as exc:
            meta = exc.response["ResponseMetadata"]
            error = exc.response["Error"]
            outcomes.append(f"{meta['HTTPStatusCode']} {error['Code']}: {error['Message']}")
    assert outcomes[:5] == ["ok"] * 5
    throttled = outcomes[5:]
    assert len(throttled) == 5
    assert set(throttled) == {"400 ThrottlingException: Rate exceeded"}
    assert proxy.stats()[GET_PARAMETER]["throttled"] == len(throttled)


def test_throttle_answer_is_byte_for_byte_aws_json_11(proxy: FaultProxy) -> None:
    proxy.configure(throttle={"ssm": Rate(0.001, burst=0)})
    conn = http.client.HTTPConnection(
        "127.0.0.1", urllib.parse.urlsplit(proxy.url).port, timeout=HANG_GUARD_S
    )
    try:
        conn.request(
            "POST",
            "/",
            body=b"{}",
            headers={"X-Amz-Target": "AmazonSSM.GetParameters", "Content-Type": "x"},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 400
    assert response.getheader("Content-Type") == "application/x-amz-json-1.1"
    assert response.getheader("Content-Length") == str(len(body))
    assert body == b'{"__type":"ThrottlingException","message":"Rate exceeded"}'


def test_ssm_operations_share_one_bucket(proxy: FaultProxy) -> None:
    proxy.configure(throttle={"ssm": Rate(0.001, burst=2)})
    ssm = _client("ssm", proxy.url)
    ssm.get_parameters(Names=["/proxy/greeting"])
    ssm.get_parameters_by_path(Path="/proxy")
    with pytest.raises(ClientError, match="ThrottlingException"):
        ssm.get_parameter(Name="/proxy/greeting")
    # Secrets Manager is not in the throttle dict, so it is never throttled.
    assert _client("secretsmanager", proxy.url).get_secret_value(SecretId="proxy/secret")


def test_botocore_classifies_throttle_as_throttling_and_retries(proxy: FaultProxy) -> None:
    proxy.configure(throttle={"ssm": Rate(0.001, burst=1)})
    ssm = _client("ssm", proxy.url, Config(retries={"total_max_attempts": 2, "mode": "standard"}))
    detector = ThrottlingErrorDetector(RetryEventAdapter())
    verdicts: list[bool] = []
    ssm.meta.events.register(
        "needs-retry.ssm",
        lambda **kwargs: verdicts.append(detector.is_throttling_error(**kwargs)),
    )
    assert _get_greeting(ssm) == "hello"  # takes the only token
    with pytest.raises(ClientError) as info:
        _get_greeting(ssm)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert verdicts == [False, True, True]  # the success, then both throttled attempts
    assert proxy.stats()[GET_PARAMETER]["throttled"] == 2


def test_secrets_manager_batch_has_its_own_bucket(proxy: FaultProxy) -> None:
    proxy.configure(throttle={"secretsmanager:BatchGetSecretValue": Rate(0.001, burst=1)})
    sm = _client("secretsmanager", proxy.url)
    assert sm.batch_get_secret_value(SecretIdList=["proxy/secret"])["SecretValues"]
    with pytest.raises(ClientError, match="ThrottlingException"):
        sm.batch_get_secret_value(SecretIdList=["proxy/secret"])
    assert sm.get_secret_value(SecretId="proxy/secret")["Name"] == "proxy/secret"


def test_error_rate_answers_aws_shaped_500(proxy: FaultProxy) -> None:
    proxy.configure(error_rate=1.0, error_status=(500,))
    with pytest.raises(ClientError) as info:
        _get_greeting(_client("ssm", proxy.url))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert info.value.response["Error"]["Code"] == "InternalFailure"
    assert proxy.stats()[GET_PARAMETER]["errored"] == 1


def test_reset_rate_gives_connection_error(proxy: FaultProxy) -> None:
    proxy.configure(reset_rate=1.0)
    with pytest.raises(ConnectionClosedError) as info:
        _get_greeting(_client("ssm", proxy.url))
    # A real RST (SO_LINGER 0), not an orderly close: urllib3 saw "connection reset by peer".
    assert any(isinstance(arg, ConnectionResetError) for arg in info.value.kwargs["error"].args)
    assert proxy.stats()[GET_PARAMETER]["reset"] == 1


def test_timeout_rate_gives_read_timeout(proxy: FaultProxy) -> None:
    proxy.configure(timeout_rate=1.0)
    config = NO_RETRY.merge(Config(read_timeout=0.3, connect_timeout=1))
    with pytest.raises(ReadTimeoutError):
        _get_greeting(_client("ssm", proxy.url, config))
    assert proxy.stats()[GET_PARAMETER]["timed_out"] == 1


def test_hanging_request_is_dropped_after_hang_s(proxy: FaultProxy) -> None:
    proxy.configure(timeout_rate=1.0, hang_s=0.1)
    # The client would wait far longer: the closed connection, not a read timeout, ends it.
    config = NO_RETRY.merge(Config(read_timeout=HANG_GUARD_S, connect_timeout=1))
    with pytest.raises(ConnectionClosedError):
        _get_greeting(_client("ssm", proxy.url, config))


def test_stop_releases_hanging_requests(moto_url: str) -> None:
    proxy = FaultProxy(moto_url, FaultConfig(timeout_rate=1.0)).start()
    config = NO_RETRY.merge(Config(read_timeout=HANG_GUARD_S, connect_timeout=1))
    ssm = _client("ssm", proxy.url, config)
    errors: list[Exception] = []

    def call() -> None:
        try:
            _get_greeting(ssm)
        except Exception as exc:
            errors.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    while proxy.totals()["timed_out"] == 0:
        time.sleep(0.01)
    proxy.stop()
    caller.join(timeout=HANG_GUARD_S / 2)  # only against a hang
    assert not caller.is_alive()
    # A closed connection, not the (much longer) read timeout: stop() released the request.
    assert [type(e) for e in errors] == [ConnectionClosedError]


def test_seed_makes_fault_sequence_reproducible(proxy: FaultProxy) -> None:
    ssm = _client("ssm", proxy.url)

    def run() -> list[bool]:
        proxy.configure(error_rate=0.5, seed=7)
        results = []
        for _ in range(12):
            try:
                _get_greeting(ssm)
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    first = run()
    assert run() == first
    assert True in first
    assert False in first


def test_stats_count_by_operation_and_reset(proxy: FaultProxy) -> None:
    ssm = _client("ssm", proxy.url)
    sm = _client("secretsmanager", proxy.url)
    _get_greeting(ssm)
    sm.get_secret_value(SecretId="proxy/secret")
    proxy.configure(error_rate=1.0, error_status=(503,))
    with pytest.raises(ClientError):
        _get_greeting(ssm)
    zero = dict.fromkeys(COUNTERS, 0)
    assert proxy.stats() == {
        GET_PARAMETER: {**zero, "received": 2, "forwarded": 1, "errored": 1},
        "secretsmanager.GetSecretValue": {**zero, "received": 1, "forwarded": 1},
    }
    assert proxy.totals()["received"] == 3
    proxy.reset_stats()
    assert proxy.stats() == {}


def test_stats_are_exact_under_concurrency(proxy: FaultProxy) -> None:
    def work() -> None:
        ssm = _client("ssm", proxy.url)
        for _ in range(10):
            _get_greeting(ssm)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert proxy.stats()[GET_PARAMETER]["received"] == 40
    assert proxy.stats()[GET_PARAMETER]["forwarded"] == 40


def test_token_bucket_refills_at_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(Rate(2.0, burst=3), clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5  # one token back at 2/s
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] = 100.0  # never beyond the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_default_classifier_buckets() -> None:
    def bucket(target: str) -> str | None:
        return default_classifier(ProxyRequest("POST", "/", {"x-amz-target": target}, b"{}"))

    assert {bucket(f"AmazonSSM.{op}") for op in ("GetParameter", "GetParameters")} == {"ssm"}
    assert bucket("AmazonSSM.GetParametersByPath") == "ssm"
    assert bucket("secretsmanager.BatchGetSecretValue") == "secretsmanager:BatchGetSecretValue"
    assert bucket("secretsmanager.GetSecretValue") == "secretsmanager:GetSecretValue"
    assert bucket("AmazonSSM.PutParameter") is None
    assert set(aws_rates()) == {
        "ssm",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetSecretValue",
    }
    assert aws_rates()["ssm"].capacity == 40
