"""Backup and restore of the embedded default (SQLite + blob files under the data dir).

A backup is a directory::

    OUT/objectstore.db        the metadata, a consistent snapshot (SQLite's online backup)
    OUT/blobs/ab/cd/<id>      every blob that snapshot names (hard links when OUT is on the
                              same file system, else copies)
    OUT/server.key            the key sealing S3 secrets (unless OBJECTSTORE_SERVER_KEY is set)
    OUT/sse-keyring.json      the SSE master keys (unless OBJECTSTORE_SSE_MASTER_KEY is set)
    OUT/console.db            the console's usage history
    OUT/backup.json           what was taken, written last: a backup without it is incomplete

Why it is consistent while the server runs and writes
-----------------------------------------------------
1. The metadata is copied with ``sqlite3.Connection.backup`` in one step: one read
   transaction, so the copy is the database as of one commit (WAL: writers go on meanwhile).
   Small objects stored inline live in their row and come with it.
2. The blobs are listed from that snapshot and taken right after it. A blob file is written
   whole and fsynced *before* the commit that names it, and is never changed afterwards, so a
   blob the snapshot names is complete on disk. It can disappear only if, after the snapshot,
   a commit replaced or deleted its object (queueing it in ``doomed_blobs``) *and* the GC then
   unlinked it, which it does no sooner than OBJECTSTORE_BLOB_GRACE_SECONDS after queueing.
   Each blob is hard-linked (or opened, then copied): once linked or open, a later unlink
   cannot take its bytes. So the only race left is a blob unlinked before its turn came,
   which shows as "file not found" — never as wrong bytes. The backup then starts over with a
   fresh snapshot (a few tries), and says to raise the grace period if it keeps happening.
   With the default grace period a blob named at the snapshot stays for that long after any
   overwrite, and linking takes well under a millisecond per blob.
3. The key files are copied after the snapshot: the key ring only grows (rotation adds a
   key, old ones stay to open older objects), so it holds every key the snapshot's rows use.

Restore copies all of it into an empty directory (a non-empty one is refused), verifying
first that every blob the snapshot names is in the backup.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select

from ..domain.models import blobs_of
from ..storage.sql.tables import object_versions, objects, parts
from .keys import KEYRING_FILE

DB_FILE = "objectstore.db"
CONSOLE_DB = "console.db"
SERVER_KEY = "server.key"
MANIFEST = "backup.json"
FORMAT = 1
#: files of the data dir a backup holds besides the databases and the blobs
KEY_FILES = (SERVER_KEY, KEYRING_FILE)
TRIES = 3


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    blobs: int
    blob_bytes: int
    linked: int
    tries: int
    notes: list[str]


def _snapshot(source: Path, dest: Path) -> None:
    """``source`` (a live SQLite database) as of one commit, into ``dest``."""
    src = sqlite3.connect(source, timeout=60)  # reads only (WAL: no lock a writer waits on)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)  # pages=-1: all of it in one step, one read transaction
        finally:
            dst.close()
    finally:
        src.close()


def named_blobs(db: Path) -> set[str]:
    """Every blob a database's rows name: object versions (single blob or part manifest)
    and parts of unfinished multipart uploads. Queued (doomed) blobs are not named."""
    engine = create_engine(f"sqlite:///{db}")
    out: set[str] = set()
    try:
        with engine.connect() as conn:
            for table in (objects, object_versions):
                for blob_id, manifest in conn.execute(select(table.c.blob_id, table.c.parts)):
                    out.update(blobs_of(blob_id, manifest))
            out.update(r[0] for r in conn.execute(select(parts.c.blob_id)) if r[0])
    finally:
        engine.dispose()
    return out


def _blob_path(root: Path, blob_id: str) -> Path:
    return root / "blobs" / blob_id[:2] / blob_id[2:4] / blob_id


def _link_or_copy(src: Path, dst: Path, link: bool) -> bool:
    """Put ``src``'s bytes at ``dst``: a hard link when allowed and possible (True), else a
    copy of the file opened first (so a later unlink of ``src`` cannot cut it short).
    FileNotFoundError when ``src`` is gone."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(src, dst)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1024 * 1024)
        fout.flush()
        os.fsync(fout.fileno())
    return False


def _empty_dir(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} {path} is not empty: give a new or empty directory")


def backup(data_dir: Path, out: Path, *, link: bool = True, keyring_configured: bool = False,
           server_key_configured: bool = False) -> BackupResult:
    """Back up ``data_dir`` (which a server may be using) into ``out`` (new or empty)."""
    data_dir = Path(data_dir)
    out = Path(out)
    if not (data_dir / DB_FILE).is_file():
        raise BackupError(f"{data_dir / DB_FILE} does not exist: is {data_dir} an objectstore "
                          "data dir (with the default SQLite database)?")
    _empty_dir(out, "backup directory")
    work = out.with_name(out.name + ".partial")
    tries = 0
    while True:
        tries += 1
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, mode=0o700)  # sealed secrets, key files: owner only
        _snapshot(data_dir / DB_FILE, work / DB_FILE)
        wanted = sorted(named_blobs(work / DB_FILE))
        missing = []
        linked = size = 0
        for blob_id in wanted:
            dst = _blob_path(work, blob_id)
            try:
                linked += _link_or_copy(_blob_path(data_dir, blob_id), dst, link)
                size += os.stat(dst).st_size
            except FileNotFoundError:
                missing.append(blob_id)
        if not missing:
            break
        if tries == TRIES:
            shutil.rmtree(work, ignore_errors=True)
            raise BackupError(
                f"{len(missing)} blob(s) named by the snapshot were deleted before they could "
                f"be taken ({TRIES} tries), e.g. {missing[0]}: objects are being replaced "
                "faster than the GC's grace period allows; raise "
                "OBJECTSTORE_BLOB_GRACE_SECONDS and try again")
    notes: list[str] = []
    for name in KEY_FILES:  # after the snapshot: the key ring only grows
        if (data_dir / name).exists():
            shutil.copy2(data_dir / name, work / name)
    if server_key_configured or not (work / SERVER_KEY).exists():
        notes.append("the server key is set by OBJECTSTORE_SERVER_KEY, not a file: keep it "
                     "with this backup (S3 secrets cannot be opened without it)")
    if keyring_configured or not (work / KEYRING_FILE).exists():
        notes.append("the SSE master key is set by OBJECTSTORE_SSE_MASTER_KEY, not a file: "
                     "keep it with this backup (encrypted objects cannot be read without it)")
    if (data_dir / CONSOLE_DB).exists():
        _snapshot(data_dir / CONSOLE_DB, work / CONSOLE_DB)
    manifest = {"format": FORMAT, "taken_at": time.time(), "blobs": len(wanted),
                "blob_bytes": size, "files": sorted(p.name for p in work.iterdir()),
                "notes": notes}
    os.sync()  # everything on disk before the manifest says the backup is complete
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    with contextlib.suppress(FileNotFoundError):
        out.rmdir()  # an empty directory given: replaced by the finished backup
    os.replace(work, out)
    return BackupResult(out, len(wanted), size, linked, tries, notes)


@dataclass
class RestoreResult:
    path: Path
    blobs: int
    notes: list[str]


def restore(backup_dir: Path, data_dir: Path, *, link: bool = False) -> RestoreResult:
    """Rebuild a data dir from a backup, into ``data_dir`` (new or empty)."""
    backup_dir = Path(backup_dir)
    data_dir = Path(data_dir)
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{backup_dir} is not a complete objectstore backup (no readable "
                          f"{MANIFEST})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{backup_dir}: backup format {manifest.get('format')} is not "
                          f"supported (this version reads {FORMAT})")
    _empty_dir(data_dir, "data directory")
    wanted = sorted(named_blobs(backup_dir / DB_FILE))
    absent = [b for b in wanted if not _blob_path(backup_dir, b).is_file()]
    if absent:
        raise BackupError(f"{backup_dir} lacks {len(absent)} blob(s) its database names, "
                          f"e.g. {absent[0]}: not restored")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (DB_FILE, CONSOLE_DB, *KEY_FILES):
        if (backup_dir / name).exists():
            shutil.copy2(backup_dir / name, data_dir / name)
    for blob_id in wanted:
        _link_or_copy(_blob_path(backup_dir, blob_id), _blob_path(data_dir, blob_id), link)
    with contextlib.suppress(OSError):
        os.chmod(data_dir / SERVER_KEY, 0o600)
    os.sync()
    return RestoreResult(data_dir, len(wanted), list(manifest.get("notes", [])))
