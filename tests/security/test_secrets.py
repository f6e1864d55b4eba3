"""Secrets at rest and in comparisons.

* API keys are stored only as SHA-256 hex digests (accounts table; no plaintext anywhere in the
  database, on SQLite and PostgreSQL).
* S3 secret keys are stored Fernet-encrypted with the server key (credentials table), decrypt
  with that key only, and never appear in plaintext in the database files.
* ``server.key`` is created with mode 0600.
* Signatures, digests and keys are compared with ``hmac.compare_digest`` (a static check of the
  source: no ``==`` / ``!=`` on signature-like values in the auth modules).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

import objectstore
from objectstore.storage.sql.tables import accounts, credentials
from tests.support.server import RunningServer

SRC = Path(objectstore.__file__).parent


def _db_bytes(srv: RunningServer) -> bytes:
    """Every byte of the SQLite database files (main file, WAL, shared memory)."""
    data_dir = srv.services.settings.data_dir
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("objectstore.db*")))


def _rows(srv: RunningServer, table) -> list[dict]:  # type: ignore[no-untyped-def]
    with srv.services.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def test_api_keys_stored_only_as_sha256(server: RunningServer) -> None:
    srv = server
    _account, key = srv.services.accounts.create("secrets-probe")
    custom_key = "Custom-API-Key-" + os.urandom(8).hex()
    srv.services.accounts.create("secrets-probe-2", api_key=custom_key)
    rows = _rows(srv, accounts)
    hashes = {r["name"]: r["api_key_hash"] for r in rows}
    for name, plain in (("secrets-probe", key), ("secrets-probe-2", custom_key),
                        ("default", srv.api_key)):
        assert hashes[name] == hashlib.sha256(plain.encode()).hexdigest(), name
        for row in rows:
            assert all(plain not in str(v) for v in row.values()), f"plaintext API key in {row}"
    assert set(rows[0]) == {"id", "name", "api_key_hash", "quota_gb", "created_at"}, (
        "a new accounts column: make sure it holds no plaintext key")
    if srv.services.engine.dialect.name == "sqlite":
        blob = _db_bytes(srv)
        for plain in (key, custom_key, srv.api_key):
            assert plain.encode() not in blob, "plaintext API key in the database file"
    # and the key still works (the hash is what is checked)
    with srv.api(key) as api:
        assert api.get("/v2/quota").status_code == 200


def test_s3_secrets_encrypted_with_server_key(server: RunningServer) -> None:
    srv = server
    secret = "PlainSecret" + os.urandom(12).hex()
    with srv.api() as api:
        r = api.post("/v2/objectstore/credentials",
                     json={"name": "enc-probe", "region": "LON1",
                           "secret_access_key_id": secret})
        assert r.status_code == 200, r.text
        generated = api.post("/v2/objectstores", json={"name": "enc-probe-store",
                                                       "region": "LON1", "max_size_gb": 1})
        assert generated.status_code == 200, generated.text
        gen_cred = api.get("/v2/objectstore/credentials/"
                           + generated.json()["owner_info"]["credential_id"]).json()
    key = (srv.services.settings.data_dir / "server.key").read_bytes().strip()
    rows = {r["name"]: r for r in _rows(srv, credentials)}
    for name, plain in (("enc-probe", secret),
                        ("enc-probe-store", gen_cred["secret_access_key_id"])):
        row = rows[name]
        assert all(plain not in str(v) for v in row.values()), f"plaintext secret in {row}"
        assert Fernet(key).decrypt(row["secret_enc"].encode()).decode() == plain
        with pytest.raises(InvalidToken):
            Fernet(Fernet.generate_key()).decrypt(row["secret_enc"].encode())
    if srv.services.engine.dialect.name == "sqlite":
        blob = _db_bytes(srv)
        assert secret.encode() not in blob
        assert gen_cred["secret_access_key_id"].encode() not in blob
        assert key not in blob, "the server key is stored in the database"


def test_server_key_file_is_0600(server: RunningServer) -> None:
    path = server.services.settings.data_dir / "server.key"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, f"server.key has mode {oct(mode)}"
    Fernet(path.read_bytes().strip())  # a valid Fernet key


# -- constant-time comparisons ------------------------------------------------------------------

SECRETISH = re.compile(r"sig|signature|digest|expected|provided|secret|api_key|mac|token",
                       re.I)
AUTH_MODULES = ["s3/sigv4.py", "s3/sigv2.py", "s3/chunked.py", "services/secrets.py",
                "s3/authn.py", "mgmt/auth.py", "services/accounts.py"]
# (module, source of the comparison): reviewed, not a secret comparison
ALLOWED = {
    # SQL lookup of the account row by the SHA-256 of the presented key; the match is then
    # confirmed with hmac.compare_digest (secrets.api_key_matches)
    ("services/accounts.py", "accounts.c.api_key_hash == digest"),
}


def _equality_on_secrets(module: str) -> list[str]:
    tree = ast.parse((SRC / module).read_text())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        text = ast.unparse(node)
        if any(SECRETISH.search(n) for n in names) and (module, text) not in ALLOWED:
            found.append(f"{module}:{node.lineno}: {text}")
    return found


@pytest.mark.parametrize("module", AUTH_MODULES)
def test_no_equality_comparison_of_secrets(module: str) -> None:
    assert _equality_on_secrets(module) == []


@pytest.mark.parametrize(("module", "minimum"), [("s3/sigv4.py", 1), ("s3/sigv2.py", 1),
                                                 ("s3/chunked.py", 2),
                                                 ("services/secrets.py", 1)])
def test_signatures_compared_in_constant_time(module: str, minimum: int) -> None:
    text = (SRC / module).read_text()
    assert text.count("hmac.compare_digest(") >= minimum, module


def test_static_check_catches_a_plain_comparison(tmp_path: Path, monkeypatch) -> None:  # type: ignore
    """The checker itself: a signature compared with == is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(expected, provided):\n    return expected == provided\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert _equality_on_secrets("bad.py") == ["bad.py:2: expected == provided"]
