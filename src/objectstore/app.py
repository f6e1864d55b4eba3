"""Composition root: the only module that picks the concrete SQL and blob store adapters."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from starlette.types import ASGIApp

from .config import Settings
from .domain.errors import Unauthenticated
from .forwarded import ClientView, TrustedProxies, client_view, parse_trusted_proxies
from .observability import Metrics, MetricsView, Observed, WithMetricsEndpoint
from .services.accounts import AccountService
from .services.bucket_configs import BucketConfigService
from .services.cache import SharedGeneration
from .services.credentials import CredentialService
from .services.engine.lifecycle import LifecycleWorker
from .services.engine.multipart import MultipartService
from .services.engine.objects import ObjectEngine
from .services.engine.sse import SseCodec
from .services.events.deliverer import EventDeliverer
from .services.events.guard import Guard
from .services.events.targets import TargetService
from .services.keys import KEYRING_FILE, KeyService, MasterKeyRing
from .services.leader import Leader
from .services.maintenance import GarbageCollector
from .services.notify import make_changes
from .services.objectstores import ObjectStoreService
from .services.regions import RegionService
from .services.registry import Services
from .services.secrets import SecretBox, load_or_create_server_key
from .services.usage_metrics import collectors as usage_collectors
from .storage.blobs import BlobStore
from .storage.fs.store import FsBlobStore
from .storage.sql.engine import make_engine, migrate
from .storage.sql.group_commit import make_writer


def make_blob_store(settings: Settings, engine: Engine) -> BlobStore:
    """``file`` (blobs under the data dir) or ``seaweedfs://MASTERS?...``."""
    # writes in flight are touched well within the orphan sweep's age
    heartbeat_s = min(60.0, settings.orphan_sweep_age_seconds / 4)
    if settings.blob_store == "file":
        return FsBlobStore(settings.data_dir, fsync=settings.fsync, direct=settings.direct_io,
                           heartbeat_s=heartbeat_s)
    from .config import SeaweedConfig
    from .storage.seaweedfs.store import SeaweedBlobStore

    return SeaweedBlobStore(engine, SeaweedConfig.parse(settings.blob_store),
                            heartbeat_s=heartbeat_s)


def make_sse(settings: Settings, engine: Engine, changes: SharedGeneration | None
             ) -> SseCodec:
    """Encryption at rest: the master key ring (file in the data dir, or a setting) and the
    KMS key service."""
    ring = MasterKeyRing(settings.data_dir / KEYRING_FILE, settings.sse_master_key)
    return SseCodec(KeyService(engine, ring, changes), settings.sse_segment_bytes)


def make_targets(settings: Settings, engine: Engine, box: SecretBox,
                 changes: SharedGeneration | None = None) -> TargetService:
    """Event targets, refused where the operator's settings (and the built-in rules) say."""
    guard = Guard(parse_trusted_proxies(settings.event_targets_deny),
                  parse_trusted_proxies(settings.event_targets_allow),
                  frozenset(p for p in (settings.s3_port, settings.api_port, settings.web_port)
                            if p is not None), frozenset({settings.host}))
    return TargetService(engine, box, guard, backlog_limit=settings.event_backlog_limit,
                         changes=changes)


def build_services(settings: Settings, *, run_migrations: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url(),
                         sqlite_synchronous=settings.sqlite_synchronous)
    if run_migrations:
        migrate(engine)
    box = SecretBox(load_or_create_server_key(settings.data_dir, settings.server_key))
    # one change counter per data dir, seen by every worker process and admin CLI run; on
    # PostgreSQL also one per database, seen by every gateway (LISTEN/NOTIFY)
    changes = make_changes(settings.data_dir / "cache.generation", engine)
    creds = CredentialService(engine, box, changes)
    blobs = make_blob_store(settings, engine)
    configs = BucketConfigService(engine, changes)
    objects = ObjectEngine(engine, blobs, make_writer(engine),
                           inline_max_bytes=settings.inline_max_bytes,
                           verify_reads=settings.verify_reads.lower(), configs=configs)
    objects.sse = make_sse(settings, engine, changes)
    return Services(
        settings=settings,
        engine=engine,
        blobs=blobs,
        regions=RegionService(settings.region_list()),
        accounts=AccountService(engine, settings.account_quota_gb, changes),
        credentials=creds,
        stores=ObjectStoreService(engine, creds, settings.default_store_gb, changes),
        objects=objects,
        multipart=MultipartService(engine, objects),
        configs=configs,
        changes=changes,
        targets=make_targets(settings, engine, box, changes),
    )


def ensure_default_account(services: Services) -> str | None:
    """First start: create the default account. Returns a newly generated key to print once."""
    key = services.settings.api_key
    if services.accounts.count() == 0:
        _acc, created_key = services.accounts.create("default", api_key=key)
        return None if key else created_key
    if key:
        # OBJECTSTORE_API_KEY set on a later start: make sure it works for the default account.
        try:
            services.accounts.authenticate(key)
        except Unauthenticated:
            services.accounts.set_api_key("default", key)
    return None


def metrics_access(services: Services) -> Callable[[str | None], MetricsView]:
    """Who sees what on ``/metrics``: per-store series (every tenant's store names and sizes)
    need ``OBJECTSTORE_METRICS_TOKEN`` or the operator's API key as the bearer token; no token
    sees the aggregates; any other token is refused."""
    from .console.state import OPERATOR_ACCOUNT

    wanted = services.settings.metrics_token

    def access(token: str | None) -> MetricsView:
        if token is None:
            return MetricsView.AGGREGATE
        if wanted and hmac.compare_digest(token.encode(), wanted.encode()):
            return MetricsView.FULL
        try:
            account = services.accounts.authenticate(token)
        except Unauthenticated:
            return MetricsView.DENIED
        return MetricsView.FULL if account.name == OPERATOR_ACCOUNT else MetricsView.DENIED

    return access


@dataclass
class Apps:
    services: Services
    mgmt: ASGIApp
    s3: ASGIApp
    gc: GarbageCollector
    lifecycle: LifecycleWorker
    # the website plane (OBJECTSTORE_WEB_PORT set; docs/website.md)
    web: ASGIApp | None = field(default=None, kw_only=True)
    events: EventDeliverer | None = None  # bucket event delivery (the "events" role)


def build_apps(settings: Settings, *, run_migrations: bool = True) -> Apps:
    from .console import create_console
    from .mgmt.app import create_mgmt_app
    from .mgmt.openapi import OPENAPI
    from .s3.app import create_s3_app

    services = build_services(settings, run_migrations=run_migrations)
    max_age = timedelta(hours=settings.multipart_max_age_hours)
    gc = GarbageCollector(services.engine, services.blobs, services.objects.gc_wakeup,
                          expire_uploads=lambda: services.multipart.expire(max_age),
                          leader=Leader(services.engine, "gc", settings.data_dir),
                          # a shared blob store's queue is drained by the leader only
                          drain_everywhere=isinstance(services.blobs, FsBlobStore),
                          grace_s=settings.blob_grace_seconds,
                          orphan_age_s=settings.orphan_sweep_age_seconds)
    metrics = Metrics(*usage_collectors(services.engine))
    console = create_console(services, OPENAPI)  # the web console: /, /console/..., /docs
    mgmt_app = create_mgmt_app(services, console.routes(), console=console)
    # one view of the client (address, scheme, host) for both planes: forwarded headers
    # count only from the proxies the operator lists
    proxies = TrustedProxies(parse_trusted_proxies(settings.trusted_proxies))
    mgmt = ClientView(WithMetricsEndpoint(Observed(mgmt_app, "mgmt", metrics), metrics,
                                          metrics_access(services)), proxies)
    s3 = client_view(Observed(create_s3_app(services), "s3", metrics), proxies)
    web = None
    if settings.web_port is not None:
        from .website.app import create_website_app

        web = client_view(Observed(create_website_app(services), "web", metrics), proxies)
    lifecycle = LifecycleWorker(services.engine, services.objects, services.multipart,
                                services.configs,
                                Leader(services.engine, "lifecycle", settings.data_dir),
                                settings.lifecycle_day_seconds)
    assert services.targets is not None
    events = EventDeliverer(services.engine, services.targets, services.objects.events,
                            Leader(services.engine, "events", settings.data_dir),
                            services.objects.writer.run,
                            backlog_limit=settings.event_backlog_limit,
                            retry_max_s=settings.event_retry_max_seconds)
    return Apps(services, mgmt, s3, gc, lifecycle, events, web=web)
