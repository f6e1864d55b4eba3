"""Settings: listen addresses, regions, database URL, data dir, limits.

Every setting can come from a CLI flag or an ``OBJECTSTORE_*`` environment variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    for raw in spec.split(","):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p.strip() for p in raw.split(":")]
        code = parts[0].upper()
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBJECTSTORE_", extra="ignore")

    host: str = "127.0.0.1"
    api_port: int = 8000
    s3_port: int = 9000
    data_dir: Path = Path("./data")
    database_url: str | None = None
    public_s3_url: str | None = None
    s3_domain: str | None = Field(
        default=None, description="virtual-hosted style: <bucket>.<s3_domain>"
    )
    regions: str = DEFAULT_REGIONS
    default_region: str | None = None
    api_key: str | None = None
    account_quota_gb: int = 10000
    default_store_gb: int = 500
    server_key: str | None = Field(default=None, description="Fernet key for S3 secrets")
    sqlite_synchronous: str = Field(
        default="FULL", description="FULL (durable, default) or NORMAL (opt-in, may lose writes)"
    )
    fsync: bool = Field(default=True, description="fsync blobs before acknowledging (keep on)")
    max_api_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 64 * 1024
    request_body_timeout_s: float = Field(
        default=60.0, description="a request body that stalls this long is refused")
    multipart_max_age_hours: int = 24 * 7
    log_level: str = "info"
    verify_reads: str = Field(
        default="all", description="check whole-object GETs against the stored checksum: "
        "all (CRC or MD5), crc (only objects with a stored CRC: no MD5 cost), off")
    inline_max_bytes: int = Field(
        default=64 * 1024, ge=0, description="objects up to this size keep their bytes in the "
        "metadata row (one durable commit, no blob file); 0 = always a blob file")
    workers: int = Field(default=1, description="processes serving both planes (Linux)")
    tls_cert: Path | None = Field(default=None, description="PEM certificate: serve S3 over TLS")
    tls_key: Path | None = Field(default=None, description="PEM private key for tls_cert")

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

    def resolved_public_s3_url(self) -> str:
        if self.public_s3_url:
            return self.public_s3_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.s3_port}"
