"""The Jinja2 environment: autoescaped templates shipped inside the package."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

PREFIX = "/console"


def human_bytes(n: int | float) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def when(value: datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def url(path: str, **params: object) -> str:
    """A console URL with its query parameters encoded (any characters round-trip)."""
    query = urlencode([(k, str(v)) for k, v in params.items() if v is not None and v != ""])
    return PREFIX + path + (f"?{query}" if query else "")


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("objectstore.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["when"] = when
    env.globals["url"] = url
    env.globals["static"] = lambda name: f"{PREFIX}/static/{name}"
    return env
