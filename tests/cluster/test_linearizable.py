"""Linearizability under faults (issue 21): concurrent clients through three gateways
(PostgreSQL + SeaweedFS, each gateway in its own network namespace) on four keys, PUT, GET,
DELETE, ListObjectsV2, multipart completes and copies, every operation recorded and each key
checked as a register (tests/support/history.py; the run: tests/cluster/linearizable.py).

The short run (`make test`) injects each fault once, half a second apart: a gateway SIGKILLed
and restarted, one SIGSTOPped, PostgreSQL crashed and restarted, a SeaweedFS volume server
SIGKILLed, a gateway cut from PostgreSQL and one from SeaweedFS; it ends a second after the
last is healed (~20 s; at least ``OBJECTSTORE_LINEARIZABLE_SHORT_SECONDS``). The long one
(`make test-long`, ``OBJECTSTORE_LINEARIZABLE_SECONDS``, default 600) cycles through them and
prints operations checked, faults injected and anomalies found."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.cluster.linearizable import (
    ALL_FAULTS,
    PG_ADDR,
    Nemesis,
    Topology,
    run,
    topology,
)
from tests.support.clients import error_code, status_of

pytestmark = pytest.mark.postgres

SHORT_SECONDS = float(os.environ.get("OBJECTSTORE_LINEARIZABLE_SHORT_SECONDS", "0"))
LONG_SECONDS = float(os.environ.get("OBJECTSTORE_LINEARIZABLE_SECONDS", "600"))


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topology]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("network namespaces need root and iproute2 (the sandbox has both)")
    with topology(tmp_path, gateways=3) as t:
        yield t


def _check(topo: Topology, seconds: float, cycle: bool, **kw: float) -> None:
    report = run(topo, seconds, faults=ALL_FAULTS, cycle=cycle, **kw)
    print("\n" + report.text())
    assert len(report.faults) >= len(ALL_FAULTS)
    assert report.result.ops > 100
    assert report.recorded["GET"] and report.recorded["LIST"] and report.recorded["COPY"] \
        and report.recorded["MPU"] and report.recorded["DELETE"]
    assert not report.corrupt, report.corrupt[:5]
    assert report.result.ok, "\n".join(str(a) for a in report.result.anomalies[:10])
    assert not report.internal_errors, ("500 answers (a read must get the old version or the "
                                        f"new one; an outage is a 503): {report.internal_errors}")


def test_linearizable_under_faults_short(topo: Topology) -> None:
    _check(topo, SHORT_SECONDS, cycle=False, warmup=1.0, gap=0.5)


@pytest.mark.long
@pytest.mark.timeout(3600 + int(LONG_SECONDS))
def test_linearizable_under_faults_long(topo: Topology) -> None:
    _check(topo, LONG_SECONDS, cycle=True)


def _answer(call: Any) -> tuple[int, str]:
    """(status, code) of one request; (0, exception name) when there was no answer."""
    try:
        call()
        return 200, "OK"
    except ClientError as exc:
        return status_of(exc), error_code(exc)
    except (BotoCoreError, OSError) as exc:
        return 0, type(exc).__name__


# The outage tests' gateway gives up on PostgreSQL SCALE times sooner than the server's
# defaults (PG_CONNECT_ARGS: 10 s; tests/unit/test_pg_connect_args.py checks every
# connection gets them): its answers must come within the SDKs' 60 s scaled the same way.
SCALE = 5
PG_OPTIONS = f"tcp_user_timeout={10_000 // SCALE}&connect_timeout={10 // SCALE}"
SDK_TIMEOUT = 60


@pytest.fixture(scope="module")
def one_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """One gateway for the outage tests (each heals its outage before it ends)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("network namespaces need root and iproute2 (the sandbox has both)")
    with topology(tmp_path_factory.mktemp("one-gateway"), gateways=1,
                  pg_options=PG_OPTIONS) as t:
        yield t


def _outage_calls(topo: Topology) -> tuple[Any, str, dict[str, Any]]:
    assert topo.cluster is not None
    gw = topo.gws[0]
    store = topo.cluster.create_store(gw)
    s3 = topo.cluster.s3(gw, store, read_timeout=60)  # the SDKs' default
    bucket = store["name"]
    # The gateway is shared with the module's other outage test, whose outage has healed
    # but whose stale connections may each still cost one retryable 503 (the retry is the
    # SDKs' own): wait for a normal answer before this test makes its own outage.
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.put_object(Bucket=bucket, Key="kept", Body=b"acknowledged")
            break
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    calls = {"GET": lambda: s3.get_object(Bucket=bucket, Key="kept")["Body"].read(),
             "PUT": lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x"),
             "LIST": lambda: s3.list_objects_v2(Bucket=bucket),
             "HEAD": lambda: s3.head_object(Bucket=bucket, Key="kept"),
             "DELETE": lambda: s3.delete_object(Bucket=bucket, Key="other")}
    return s3, bucket, calls


def _retryable(seen: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """The answers that are not 503 ServiceUnavailable/SlowDown (HEAD has no body: 503)."""
    return {k: v for k, v in seen.items()
            if v[0] != 503 or v[1] not in ("ServiceUnavailable", "SlowDown", "503")}


def test_postgres_down_answers_503_and_recovers_by_itself(one_gateway: Topology) -> None:
    """PostgreSQL stopped: reads, writes and listings answer 503 ServiceUnavailable or
    SlowDown (retryable), not 500 InternalError; once it is back, requests succeed again
    without a gateway restart and nothing acknowledged is lost."""
    s3, bucket, calls = _outage_calls(one_gateway)
    assert one_gateway.cluster is not None
    gw = one_gateway.gws[0]
    console = _console_signed_in(gw.api_url, one_gateway.cluster.api_key)
    nemesis = Nemesis(one_gateway)
    seen: dict[str, tuple[int, str]] = {}
    nemesis.stop_postgres()
    try:
        for name, call in calls.items():
            seen[name] = _answer(call)
        # the management API and the console say "try again" too, each in its own format
        with one_gateway.cluster.api(gw) as api:
            made = api.post("/v2/objectstores", json={"name": "during-outage",
                                                      "region": "LON1"})
            listed = api.get("/v2/objectstore/credentials", params={"region": "LON1"})
        page = console.get("/console/")
    finally:
        nemesis.start_postgres()
    _until_ok(calls["GET"])
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"acknowledged"
    assert not _retryable(seen), f"expected 503 ServiceUnavailable/SlowDown: {seen}"
    for r in (made, listed):
        assert (r.status_code, r.json()["code"]) == (503, "service_unavailable"), r.text
        assert r.headers["retry-after"] == "1"
    assert page.status_code == 503 and "try again in a moment" in page.text, page.text[:500]
    assert console.get("/console/").status_code == 200  # the session survived the outage


def _console_signed_in(base: str, key: str) -> httpx.Client:
    """A console session over plain HTTP (the sign-in form's double-submit token)."""
    client = httpx.Client(base_url=base, timeout=30, headers={"Origin": base})
    form = client.get("/console/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert form.status_code == 200 and token, form.text[:300]
    r = client.post("/console/signin", data={"csrf": token.group(1), "api_key": key})
    assert r.status_code == 303, r.text[:300]
    return client


def test_a_gateway_cut_from_postgres_answers_503_and_recovers_by_itself(
        one_gateway: Topology) -> None:
    """The gateway's network cut from PostgreSQL (packets to it dropped; its kept
    connections hang): requests answer 503 within the SDKs' default 60 s timeout, not 500
    and not never; once the network is back they succeed again. (With libpq timeouts SCALE
    times shorter than the defaults: within 60 s / SCALE.)"""
    s3, bucket, calls = _outage_calls(one_gateway)
    for call in calls.values():  # the kept connections exist before the cut
        _answer(call)
    nemesis = Nemesis(one_gateway)
    seen: dict[str, tuple[int, str]] = {}
    took: dict[str, float] = {}
    nemesis.cut_on(0, PG_ADDR)
    try:
        for name, call in calls.items():
            began = time.monotonic()
            seen[name] = _answer(call)
            took[name] = time.monotonic() - began
    finally:
        nemesis.cut_off(0, PG_ADDR)
    _until_ok(calls["GET"])
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"acknowledged"
    assert not _retryable(seen), f"expected 503 ServiceUnavailable/SlowDown: {seen}"
    assert max(took.values()) < SDK_TIMEOUT / SCALE, took


def _until_ok(call: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (got := _answer(call))[0] != 200:
        assert time.monotonic() < deadline, f"not recovered {timeout:.0f} s later: {got}"
        time.sleep(0.5)
