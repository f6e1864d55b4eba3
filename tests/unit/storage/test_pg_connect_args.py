"""Every PostgreSQL connection of the server (the pool's and the async reads') gives up on a
server that stopped answering: libpq's connect_timeout and tcp_user_timeout of 10 s and TCP
keepalives (storage/sql/engine.py PG_CONNECT_ARGS), unless the database URL says otherwise.
The async reads' asyncpg connections are no libpq ones: their socket options are read from
the socket itself.

tests/cluster/test_linearizable.py cuts a gateway from PostgreSQL with these timeouts scaled
down in its URL (and its answers' deadline with them): this is where the defaults themselves
are checked, on the connections libpq really opened."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from objectstore.storage.sql import async_reads
from objectstore.storage.sql.engine import make_engine
from objectstore.storage.sql.prepared import Prepared
from tests.support.aio import in_own_loop

pytestmark = pytest.mark.postgres

DEFAULTS = {"connect_timeout": "10", "tcp_user_timeout": "10000", "keepalives": "1",
            "keepalives_idle": "10", "keepalives_interval": "3", "keepalives_count": "3"}


_SOCKET = {"tcp_user_timeout": (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
           "keepalives": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
           "keepalives_idle": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
           "keepalives_interval": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
           "keepalives_count": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT)}


def _settings(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The libpq parameters of a pooled connection and of an async-read one."""
    import sqlalchemy as sa

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pooled = conn.connection.dbapi_connection
            assert pooled is not None
            params = dict(pooled.info.get_parameters())
        reads = async_reads.for_engine(engine)
        assert reads is not None

        async def read() -> dict[str, str]:
            assert await reads.first(Prepared(sa.select(sa.literal(1)))) == (1,)
            conn: Any = reads._idle[0]
            assert type(reads.driver).__name__ == "_Asyncpg"
            sock = conn._transport.get_extra_info("socket")
            got = {"connect_timeout": str(int(reads.driver.connect_timeout))} | {
                name: str(sock.getsockopt(level, opt)) for name, (level, opt) in _SOCKET.items()}
            await reads.close()
            return got

        return params, in_own_loop(read())
    finally:
        engine.dispose()


def test_every_connection_gives_up_on_an_unanswering_server(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    for params in _settings(pg_cluster.new_database()):
        assert {k: params.get(k) for k in DEFAULTS} == DEFAULTS, params


def test_a_setting_in_the_url_wins(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database() + "?tcp_user_timeout=2000&connect_timeout=2"
    for params in _settings(url):
        assert params.get("tcp_user_timeout") == "2000", params
        assert params.get("connect_timeout") == "2", params
        assert params.get("keepalives_idle") == "10", params
