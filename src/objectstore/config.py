"""Settings: listen addresses, regions, database URL, data dir, limits.

Every setting can come from a CLI flag or an ``OBJECTSTORE_*`` environment variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


@dataclass(frozen=True)
class RegionConfig:
    code: str
    name: str
    country: str
    country_name: str
    object_store: bool = True
    default: bool = False


DEFAULT_REGIONS = "LON1:London:GB:United Kingdom,NYC1:New York 1:US:United States," \
    "FRA1:Frankfurt 1:DE:Germany,PHX1:Phoenix 1:US:United States:noobjectstore"


def parse_regions(spec: str, default_code: str | None = None) -> list[RegionConfig]:
    """Parse ``CODE[:Name[:CC[:Country[:noobjectstore]]]]`` items separated by commas.

    The first region (or ``default_code``) is the default region.
    """
    regions: list[RegionConfig] = []
    seen: set[str] = set()
    for raw in spec.split(","):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p.strip() for p in raw.split(":")]
        code = parts[0].upper()
        if not code:
            raise ValueError(f"region {raw!r} has no code")
        if code in seen:
            raise ValueError(f"region {code} is listed twice")
        seen.add(code)
        name = parts[1] if len(parts) > 1 and parts[1] else code
        country = parts[2] if len(parts) > 2 and parts[2] else ""
        country_name = parts[3] if len(parts) > 3 and parts[3] else ""
        object_store = not (len(parts) > 4 and parts[4].lower() == "noobjectstore")
        regions.append(RegionConfig(code, name, country, country_name, object_store))
    if not regions:
        raise ValueError("at least one region is required")
    wanted = (default_code or regions[0].code).upper()
    if wanted not in {r.code for r in regions}:
        raise ValueError(f"default region {wanted} is not in the region list")
    return [
        RegionConfig(r.code, r.name, r.country, r.country_name, r.object_store, r.code == wanted)
        for r in regions
    ]


VerifyReads = Literal["all", "crc", "off"]
SqliteSynchronous = Literal["FULL", "EXTRA", "NORMAL"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)"
                       r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class SeaweedConfig:
    """The SeaweedFS blob store a ``seaweedfs://`` URL names (OBJECTSTORE_BLOB_STORE); parsed
    here, with the rest of the settings, and used by ``storage/seaweedfs``."""

    masters: tuple[str, ...]
    replication: str = "001"
    collection: str = "objectstore"
    chunk_size: int = 8 * 1024 * 1024
    fsync: bool = True

    @classmethod
    def parse(cls, url: str) -> SeaweedConfig:
        """``seaweedfs://m1:9333,m2:9333?replication=001&collection=objectstore``."""
        parts = urlsplit(url)
        if parts.scheme != "seaweedfs":
            raise ValueError("must be 'file' or seaweedfs://MASTER:PORT[,MASTER:PORT...]")
        masters = tuple(m.strip() for m in parts.netloc.split(",") if m.strip())
        if not masters:
            raise ValueError("seaweedfs:// needs at least one master host:port")
        for m in masters:
            host, _, port = m.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"master {m!r} must be HOST:PORT")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(q) - {"replication", "collection", "chunk_size", "fsync"}
        if unknown:
            raise ValueError(f"unknown seaweedfs:// parameter(s): {', '.join(sorted(unknown))}")
        replication = q.get("replication", "001")
        if len(replication) != 3 or not replication.isdigit():
            raise ValueError("replication must be three digits (e.g. 001, 010, 100)")
        collection = q.get("collection", "objectstore")
        if not collection.replace("_", "").replace("-", "").isalnum():
            raise ValueError("collection must be letters, digits, '-' or '_'")
        chunk = int(q.get("chunk_size", str(8 * 1024 * 1024)))
        if not 4096 <= chunk <= 8 * 1024 * 1024:
            raise ValueError("chunk_size must be between 4096 and 8388608 bytes")
        fsync = q.get("fsync", "true").lower() not in ("false", "0", "no")
        return cls(masters, replication, collection, chunk, fsync)


class Settings(BaseSettings):
    """Every value is checked when the settings are made: a wrong one is refused with a message
    naming it, never silently read as something else."""

    # hide_input_in_errors: a refused database URL or server key must not end up in a log.
    model_config = SettingsConfigDict(env_prefix="OBJECTSTORE_", extra="ignore",
                                      hide_input_in_errors=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    api_port: int = Field(default=8000, ge=1, le=65535)
    s3_port: int = Field(default=9000, ge=1, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://user:pass@host/db")
    public_s3_url: str | None = None
    s3_domain: str | None = Field(
        default=None, description="virtual-hosted style: <bucket>.<s3_domain>"
    )
    web_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve stores' static websites on this "
        "port (docs/website.md); unset = no website listener")
    web_domain: str | None = Field(
        default=None, description="website host names: <store>.<web_domain> (a Host equal "
        "to a store's name is served too)")
    regions: str = DEFAULT_REGIONS
    default_region: str | None = None
    api_key: str | None = None
    account_quota_gb: int = Field(default=10000, ge=0)
    default_store_gb: int = Field(default=500, ge=1)
    server_key: str | None = Field(default=None, description="Fernet key for S3 secrets")
    sqlite_synchronous: SqliteSynchronous = Field(
        default="FULL", description="FULL (durable, default) or NORMAL (opt-in, may lose writes)"
    )
    fsync: bool = Field(default=True, description="fsync blobs before acknowledging (keep on)")
    direct_io: bool = Field(
        default=False, description="blob files are written with O_DIRECT past their first MiB "
        "(opt-in: faster large writes, but a large object's first reads come from the disk); "
        "a file system that refuses O_DIRECT turns it off")
    max_api_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    request_body_timeout_s: float = Field(
        default=60.0, gt=0, description="a request body that stalls this long is refused")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="a request head (request line and headers) "
        "must be complete this long after the connection was accepted (or after its first "
        "byte on a kept-alive connection), or the connection is closed")
    keepalive_timeout_seconds: float = Field(
        default=20.0, gt=0, le=3600, description="a kept-alive connection with no new "
        "request for this long is closed")
    max_connections: int = Field(
        default=0, ge=0, description="open connections per process (both ports); over it, "
        "each new connection sheds the longest-idle one. 0 = as many as the open-file limit "
        "allows (less a reserve); never more than that")
    multipart_max_age_hours: int = Field(default=24 * 7, ge=1)
    blob_grace_seconds: float = Field(
        default=600.0, ge=0, description="a replaced or deleted object's bytes are removed "
        "this long after the change (a read that resolved the old version meanwhile still "
        "opens them); 0 only for tests")
    orphan_sweep_age_seconds: float = Field(
        default=3600.0, gt=0, description="the orphan sweep removes unnamed blobs whose last "
        "write (or in-flight heartbeat) is older than this; uploads in progress are never swept")
    lifecycle_day_seconds: int = Field(
        default=86400, ge=1, description="the length of a lifecycle day (rules count days); "
        "shorter only for tests")
    log_level: LogLevel = "info"
    verify_reads: VerifyReads = Field(
        default="all", description="check every block a read touches against its block "
        "checksum (CRC32C) and whole-object GETs against the stored checksum: all (CRC or "
        "MD5), crc (only objects with a stored CRC: no MD5 cost), off (neither)")
    inline_max_bytes: int = Field(
        default=64 * 1024, ge=0, description="objects up to this size keep their bytes in the "
        "metadata row (one durable commit, no blob file); 0 = always a blob file")
    workers: int = Field(
        default=0, ge=0, description="processes serving both planes (Linux): auto (or 0) = "
        "one per core this process may run on, 1 = a single process")
    malloc_arena_max: int = Field(
        default=2, ge=0, description="glibc malloc arenas per process (0 = glibc's default, 8 "
        "per core): fewer arenas keep less freed memory (objectstore/malloc.py)")
    malloc_trim_seconds: float = Field(
        default=10.0, ge=0, description="every that many seconds give freed heap pages back "
        "to the kernel (malloc_trim); 0 = never")
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain): serve the management API, the "
        "console and S3 over HTTPS; a file replaced on disk is picked up without a restart")
    tls_key: Path | None = Field(default=None, description="PEM private key for tls_cert")
    tls_reload_seconds: float = Field(
        default=10.0, ge=0, description="every that many seconds look whether tls_cert or "
        "tls_key changed on disk and load them for new connections (SIGHUP does it at once); "
        "0 = only on SIGHUP")
    sse_master_key: str | None = Field(
        default=None, description="SSE-S3 master key (32 bytes, base64) instead of the key "
        "ring file <data dir>/sse-keyring.json made at first start")
    sse_segment_bytes: int = Field(
        default=64 * 1024, ge=64 * 1024, le=1024 * 1024, description="encrypted objects are "
        "sealed in segments of this size (a range read decrypts only the segments it touches)")
    sse_c_allow_http: bool = Field(
        default=False, description="accept SSE-C (customer keys) over plain HTTP: for local "
        "use only, the key crosses the network in clear")
    trusted_proxies: str = Field(
        default="", description="proxies whose forwarded headers (X-Forwarded-For, "
        "X-Real-IP, Forwarded, X-Forwarded-Proto/Host) are believed: comma-separated IPs and "
        "CIDR blocks; none by default (a client's own forwarded headers are ignored)")
    metrics_token: str | None = Field(
        default=None, description="bearer token that unlocks per-store series on /metrics "
        "(the operator's API key does too); without it /metrics shows aggregates only")
    blob_store: str = Field(
        default="file", description="where object bytes live: file (the data dir) or "
        "seaweedfs://MASTER:PORT[,MASTER:PORT...][?replication=001&collection=objectstore]")
    # bucket event notifications (docs/notifications.md)
    event_targets_deny: str = Field(
        default="", description="event target endpoints resolving into these comma-separated "
        "CIDR blocks are refused (on top of link-local/metadata addresses and this "
        "server's own ports, always refused)")
    event_targets_allow: str = Field(
        default="", description="if set, event target endpoints must resolve into these "
        "comma-separated CIDR blocks (a block listed here also lifts the built-in "
        "link-local refusal for itself)")
    event_backlog_limit: int = Field(
        default=100_000, ge=1, description="undelivered events kept per target; past it "
        "the oldest are dropped (counted as failed, logged). The default and the ceiling of "
        "a target's own backlog_limit")
    event_retry_max_seconds: float = Field(
        default=60.0, gt=0, description="the longest pause between delivery attempts to a "
        "target that is down (backoff from 0.5 s doubling)")

    @field_validator("verify_reads", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("workers", mode="before")
    @classmethod
    def _auto_workers(cls, value: Any) -> Any:
        return 0 if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_url", "public_s3_url", "s3_domain", "web_domain", "web_port",
                     "default_region",
                     "api_key", "server_key", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in _DATABASE_BACKENDS:
            raise ValueError("must be a sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB URL")
        return value

    @field_validator("public_s3_url")
    @classmethod
    def _public_s3_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError("must be an http:// or https:// URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.strip()

    @field_validator("s3_domain", "web_domain")
    @classmethod
    def _s3_domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = value.strip().lower().rstrip(".")
        if not _HOSTNAME.match(domain):
            raise ValueError("must be a DNS name such as s3.example.com (no scheme, port or "
                             "path)")
        return domain

    @field_validator("server_key")
    @classmethod
    def _server_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(value.strip().encode("ascii"))
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be a Fernet key (32 bytes, URL-safe base64; make one with "
                             "`python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())'`)")
        return value.strip()

    @field_validator("trusted_proxies", "event_targets_deny", "event_targets_allow",
                     mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            from .forwarded import parse_trusted_proxies

            parse_trusted_proxies(value)  # raises ValueError naming the bad entry
            return ",".join(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("blob_store", mode="before")
    @classmethod
    def _blob_store(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip() or "file"
        if value.lower() in ("file", "fs"):
            return "file"
        SeaweedConfig.parse(value)  # raises ValueError naming what is wrong
        return value

    @field_validator("sse_master_key", mode="before")
    @classmethod
    def _sse_master_key(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            try:
                raw = base64.b64decode(value.strip().replace("-", "+").replace("_", "/"),
                                       validate=True)
            except (ValueError, binascii.Error):
                raw = b""
            if len(raw) != 32:
                raise ValueError("must be 32 random bytes in base64")
            return value.strip()
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        self.region_list()  # raises ValueError naming what is wrong with the list
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if self.web_port is not None and self.web_port in (self.api_port, self.s3_port):
            raise ValueError("web_port must differ from api_port and s3_port")
        return self

    def region_list(self) -> list[RegionConfig]:
        return parse_regions(self.regions, self.default_region)

    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://"):]
            return url
        return f"sqlite:///{(self.data_dir / 'objectstore.db').resolve()}"

    def resolved_workers(self) -> int:
        """``workers``, with auto (0) resolved to the cores this process may run on (one
        process where there is no ``fork``)."""
        if self.workers:
            return self.workers
        if not hasattr(os, "fork"):  # pragma: no cover - Linux is the platform
            return 1
        return max(1, len(os.sched_getaffinity(0)))

    def resolved_public_s3_url(self) -> str:
        if self.public_s3_url:
            return self.public_s3_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.s3_port}"


def describe_errors(exc: ValidationError) -> str:
    """One line per refused setting, named as the environment variable that sets it."""
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            name = "OBJECTSTORE_" + str(error["loc"][0]).upper()
            lines.append(f"{name}: {message}")
        else:
            lines.append(message)
    return "invalid settings:\n  " + "\n  ".join(lines)
