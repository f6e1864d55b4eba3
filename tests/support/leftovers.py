"""Blob files on disk against the blob ids the database names.

A blob file no row references is a leftover (a partial upload that was not cleaned up, a
blob whose object is gone but which was never queued for GC); a referenced blob with no file
is data loss. References are ``objects.blob_id``, the part manifests in ``objects.parts``,
``parts.blob_id`` (unfinished uploads), the same columns of ``object_versions`` when that
table exists, and the ``doomed_blobs`` queue (blobs the GC is about to unlink: not leftovers).

The database is read directly (``sqlite3`` on ``<data>/objectstore.db``, or psycopg for a
PostgreSQL URL), not through the services, so the check does not depend on the code under test.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

#: tables whose rows name blobs the way ``objects`` does (blob_id + parts manifest)
OBJECT_TABLES = ("objects", "object_versions")


def blob_files(data_dir: Path) -> set[str]:
    """Blob ids of every file under ``<data>/blobs`` (the file name is the id)."""
    out: set[str] = set()
    for _dirpath, _dirs, files in os.walk(Path(data_dir) / "blobs"):
        out.update(files)
    return out


def tmp_files(data_dir: Path) -> set[str]:
    """Files under ``<data>/tmp`` (relative paths), if that directory exists."""
    root = Path(data_dir) / "tmp"
    out: set[str] = set()
    for dirpath, _dirs, files in os.walk(root):
        out.update(os.path.relpath(os.path.join(dirpath, f), root) for f in files)
    return out


def _manifest_ids(manifest: Any) -> Iterator[str]:
    if isinstance(manifest, (str, bytes)):
        manifest = json.loads(manifest)
    for item in manifest or ():
        blob = (item.get("blob_id") or item.get("id")) if isinstance(item, dict) else item[0]
        if blob:
            yield str(blob)


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _columns(conn: Any, table: str, sqlite: bool) -> set[str]:
    if sqlite:
        return {r[1] for r in _rows(conn, f'PRAGMA table_info("{table}")')}
    return {r[0] for r in _rows(conn, "SELECT column_name FROM information_schema.columns "
                                      f"WHERE table_schema = 'public' AND table_name = '{table}'")}


def _connect(data_dir: Path, database_url: str | None) -> tuple[Any, bool]:
    if not database_url or database_url.startswith("sqlite"):
        path = (database_url.split("///", 1)[1] if database_url
                else str(Path(data_dir) / "objectstore.db"))
        # read-only, so the check never takes a lock the server's writers wait for
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30), True
    import psycopg

    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")), False


def referenced_blobs(data_dir: Path, database_url: str | None = None) -> tuple[set[str], set[str]]:
    """(blob ids that rows name, blob ids queued in doomed_blobs)."""
    conn, sqlite = _connect(data_dir, database_url)
    refs: set[str] = set()
    doomed: set[str] = set()
    with closing(conn):
        for table in OBJECT_TABLES:
            cols = _columns(conn, table, sqlite)
            if not cols:
                continue
            wanted = [c for c in ("blob_id", "parts") if c in cols]
            for row in _rows(conn, f'SELECT {", ".join(wanted)} FROM "{table}"'):
                values = dict(zip(wanted, row, strict=True))
                if values.get("blob_id"):
                    refs.add(str(values["blob_id"]))
                refs.update(_manifest_ids(values.get("parts")))
        if _columns(conn, "parts", sqlite):
            refs.update(str(r[0]) for r in _rows(conn, "SELECT blob_id FROM parts") if r[0])
        if _columns(conn, "doomed_blobs", sqlite):
            doomed.update(str(r[0]) for r in _rows(conn, "SELECT blob_id FROM doomed_blobs"))
    return refs, doomed


def leftover_blobs(data_dir: Path, database_url: str | None = None,
                   ignore: Iterable[str] = ()) -> set[str]:
    """Blob files that no row names and that are not queued for GC (``ignore``: ids that
    existed before, e.g. from a snapshot taken at the start of a test)."""
    files = blob_files(data_dir)
    refs, doomed = referenced_blobs(data_dir, database_url)
    return files - refs - doomed - set(ignore)


def missing_blobs(data_dir: Path, database_url: str | None = None) -> set[str]:
    """Blob ids that rows name but whose file is gone (data loss)."""
    refs, _doomed = referenced_blobs(data_dir, database_url)
    return refs - blob_files(data_dir)


def assert_no_leftovers(data_dir: Path, database_url: str | None = None,
                        ignore: Iterable[str] = ()) -> None:
    """No unreferenced blob file, no referenced blob missing, nothing under tmp/."""
    left = leftover_blobs(data_dir, database_url, ignore)
    assert not left, f"blob files that no object, part or GC queue names: {sorted(left)}"
    missing = missing_blobs(data_dir, database_url)
    assert not missing, f"blobs named by the database but missing on disk: {sorted(missing)}"
    tmp = tmp_files(data_dir)
    assert not tmp, f"files left under tmp/: {sorted(tmp)}"
