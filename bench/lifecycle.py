"""Lifecycle worker throughput: objects examined and expired per second in one pass, and the
peak RSS growth during it (the pass pages through the store, so memory stays flat).

    .venv/bin/python -m bench.lifecycle --objects 100000 [--versioned] [--database-url URL]

Rows are inserted straight into the metadata tables (bytes inline, tiny), half of them old
enough for the rule to expire them; then one pass runs and is timed.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from objectstore.app import build_apps
from objectstore.config import Settings
from objectstore.domain.lifecycle import Filter, Rule, rules_to_json
from objectstore.services.engine.vseq import next_vseq
from objectstore.storage.sql.tables import objects, objectstores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--versioned", action="store_true")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="objectstore-lc-bench-") as tmp:
        apps = build_apps(Settings(data_dir=Path(tmp), database_url=args.database_url))
        svc = apps.services
        acc, _ = svc.accounts.create("bench")
        store = svc.stores.create(acc.id, "LON1", "lc-bench", 1000, None).store
        if args.versioned:
            svc.stores.set_versioning(store.id, "Enabled")
        old = datetime.now(UTC) - timedelta(days=10)
        new = datetime.now(UTC)
        rows = []
        for i in range(args.objects):
            vseq = next_vseq(None)
            rows.append({
                "store_id": store.id, "key": f"k/{i:08d}", "blob_id": "", "size": 4,
                "etag": "x", "last_modified": old if i % 2 == 0 else new,
                "content_type": "binary/octet-stream", "headers": {}, "user_meta": {},
                "checksums": {}, "checksum_type": None, "acl": "private", "parts": None,
                "tags": {}, "data": b"data", "version_id": vseq if args.versioned else "null",
                "delete_marker": False, "vseq": vseq, "lock_mode": None, "lock_until": None,
                "legal_hold": False, "grants": None, "sse": None})
        with svc.engine.begin() as conn:
            for i in range(0, len(rows), 5000):
                conn.execute(objects.insert(), rows[i:i + 5000])
            conn.execute(objectstores.update().where(objectstores.c.id == store.id)
                         .values(used_bytes=4 * args.objects, object_count=args.objects))
        del rows
        svc.configs.put(store.id, "lifecycle", rules_to_json(
            [Rule("bench", True, Filter(prefix="k/"), expiration_days=1)]))
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.monotonic()
        stats = apps.lifecycle.run_pass()
        took = time.monotonic() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kind = "versioned (delete markers)" if args.versioned else "unversioned (deletes)"
        db = "PostgreSQL" if args.database_url else "SQLite"
        print(f"lifecycle pass over {args.objects} objects, {kind}, {db}: {took:.1f} s; "
              f"{stats.examined / took:,.0f} examined/s, {stats.expired / took:,.0f} "
              f"expired/s ({stats.expired} expired); peak RSS grew "
              f"{(rss1 - rss0) / 1024:.1f} MiB during the pass")
        svc.objects.writer.close()


if __name__ == "__main__":
    main()
