"""Security suite fixtures and the fuzz-run configuration.

The parser property tests run ``FUZZ_EXAMPLES`` examples each (hypothesis ``max_examples``):
small by default so ``pytest tests/security`` stays fast, larger for a fuzz run::

    OBJECTSTORE_FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/security/test_properties.py -q

The number of examples each property actually ran is printed at the end of the session and,
when ``OBJECTSTORE_FUZZ_REPORT=path.json`` is set, written there as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.security.canary import Canaries, Victim, make_victim, plant
from tests.security.helpers import FUZZ_COUNTS, Store, create_store
from tests.support.server import RunningServer, running_server


@pytest.fixture(scope="module")
def security_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One SQLite-only server per test module (tests isolate themselves by store); durability
    is not under test here, so blob fsyncs are skipped to keep the suite fast."""
    with running_server(tmp_path_factory.mktemp("data"), None, sqlite_synchronous="NORMAL",
                        fsync=False) as srv:
        yield srv


@pytest.fixture
def store(security_server: RunningServer) -> Store:
    """A fresh store on the module's SQLite server, holding ``known`` = b"hello"."""
    st = create_store(security_server)
    r = st.raw().send("PUT", f"/{st.name}/known", body=b"hello")
    assert r.status == 200, r
    return st


@pytest.fixture
def dual_store(server: RunningServer) -> Iterator[Store]:
    """Like ``store`` on the dual-database server (SQLite and PostgreSQL)."""
    st = create_store(server)
    r = st.raw().send("PUT", f"/{st.name}/known", body=b"hello")
    assert r.status == 200, r
    yield st


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FUZZ_COUNTS:
        return
    groups: dict[str, dict[str, int]] = {"properties": {}, "schemathesis": {}, "status": {}}
    for name, n in sorted(FUZZ_COUNTS.items()):
        if name.startswith("schemathesis-status:"):
            groups["status"][name.split(":", 1)[1]] = n
        elif name.startswith("schemathesis:"):
            groups["schemathesis"][name.split(":", 1)[1]] = n
        else:
            groups["properties"][name] = n
    write = terminalreporter.write_line
    if groups["properties"]:
        props = groups["properties"]
        write(f"fuzz: {sum(props.values())} property examples run ("
              + ", ".join(f"{k}={v}" for k, v in props.items()) + ")")
    if groups["schemathesis"]:
        write(f"schemathesis: {sum(groups['schemathesis'].values())} cases over "
              f"{len({k.rsplit(':', 1)[0] for k in groups['schemathesis']})} operations; "
              "responses by status: "
              + ", ".join(f"{k}={v}" for k, v in groups["status"].items()))
    path = os.environ.get("OBJECTSTORE_FUZZ_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump({"property_examples": sum(groups["properties"].values()), **groups},
                      fh, indent=2)


@pytest.fixture(scope="module")
def victim(security_server: RunningServer) -> Victim:
    """Another tenant: a store of an account no test's attacker belongs to."""
    return make_victim(security_server)


@pytest.fixture
def canaries(victim: Victim) -> Iterator[Canaries]:
    """Fresh canary objects in the victim's store before the test, re-checked after it
    (bytes, ETag, object and bucket ACLs, bucket policy, listing): an attack test fails if
    it changed another tenant's data, whatever it asserted itself."""
    planted = plant(victim)
    yield planted
    planted.check()
    planted.remove()
