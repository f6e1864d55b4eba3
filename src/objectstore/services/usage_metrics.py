"""The usage figures ``/metrics`` shows, read from the database at scrape time (so every
gateway and worker shows the same): totals per region for every scrape, per store and per
event target for an authorized one. ``observability.Metrics`` registers what
``collectors`` returns; it reads no database itself."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from ..storage.sql.tables import event_outbox, event_targets, objectstores


def collectors(engine: Engine) -> tuple[list[Collector], list[Collector]]:
    """(public, private) collectors for ``observability.Metrics``."""
    return [UsageTotals(engine)], [StoreUsage(engine), EventTargets(engine)]


class UsageTotals(Collector):
    """Usage summed over every store, per region (no tenant's names or sizes): what
    ``/metrics`` shows to anyone."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stores = GaugeMetricFamily("objectstore_stores", "Stores per region", labels=["region"])
        used = GaugeMetricFamily("objectstore_used_bytes", "Bytes stored, all stores of a "
                                 "region", labels=["region"])
        count = GaugeMetricFamily("objectstore_objects", "Objects, all stores of a region",
                                  labels=["region"])
        t = objectstores.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.region, func.count(), func.sum(t.used_bytes),
                                       func.sum(t.object_count)).group_by(t.region)).all()
        for region, n, used_bytes, objects in rows:
            stores.add_metric([region], float(n))
            used.add_metric([region], float(used_bytes or 0))
            count.add_metric([region], float(objects or 0))
        yield stores
        yield used
        yield count


class StoreUsage(Collector):
    """Usage per store, read from the metadata index at scrape time: every tenant's store
    names and sizes, so shown only to a scrape with the metrics token or the operator's key."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        used = GaugeMetricFamily("objectstore_store_used_bytes", "Bytes stored per store",
                                 labels=["store", "region"])
        count = GaugeMetricFamily("objectstore_store_objects", "Objects per store",
                                  labels=["store", "region"])
        with self.engine.connect() as conn:
            rows = conn.execute(select(objectstores.c.name, objectstores.c.region,
                                       objectstores.c.used_bytes,
                                       objectstores.c.object_count)).all()
        for name, region, used_bytes, objects in rows:
            used.add_metric([name, region], float(used_bytes))
            count.add_metric([name, region], float(objects))
        yield used
        yield count


class EventTargets(Collector):
    """Bucket event delivery per target (docs/notifications.md), read from the database at
    scrape time, so every gateway and worker shows the same figures: the backlog
    (undelivered events), events delivered, delivery attempts that failed and were retried,
    and events dropped at the backlog limit (failed). Per tenant, so an authorized scrape's."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["target", "name", "type"]
        backlog = GaugeMetricFamily("objectstore_event_backlog", "Undelivered events per "
                                    "target", labels=labels)
        counters = {c: CounterMetricFamily(f"objectstore_events_{c}", help_, labels=labels)
                    for c, help_ in (("delivered", "Events the target acknowledged"),
                                     ("retried", "Failed delivery attempts (retried)"),
                                     ("failed", "Permanent failures (still retried) and "
                                                "events dropped at the backlog limit"))}
        t = event_targets.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.id, t.name, t.type, t.delivered, t.retried,
                                       t.failed)).all()
            waiting: dict[str, int] = dict(conn.execute(
                select(event_outbox.c.target_id, func.sum(event_outbox.c.events))
                .group_by(event_outbox.c.target_id)).all())
        for tid, name, type_, delivered, retried, failed in rows:
            backlog.add_metric([tid, name, type_], float(waiting.get(tid, 0)))
            for c, value in (("delivered", delivered), ("retried", retried),
                             ("failed", failed)):
                counters[c].add_metric([tid, name, type_], float(value or 0))
        yield backlog
        yield from counters.values()
