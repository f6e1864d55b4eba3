"""Broker endpoint URLs (amqp://, nats://, redis://): where the credentials are, the URL without
them (for messages and listings), and a secret set apart from the URL put back in.

A target's credentials come either in its endpoint URL (``amqp://user:pass@host/vhost``,
``redis://:pass@host:port/db``, ``nats://user:pass@host:port`` or ``nats://token@host:port``)
or as ``TargetSpec.secret``: then the secret is the password for the URL's user name (for
Redis without one, the default user's password; for NATS without one, a token). A secret
given both ways: ``TargetSpec.secret`` wins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Credentials:
    user: str | None
    password: str | None


def split_netloc(netloc: str) -> tuple[str | None, str | None, str]:
    """``user:pass@host:port`` -> (user, password, host:port), user and password still
    percent-encoded as in the URL."""
    if "@" not in netloc:
        return None, None, netloc
    userinfo, hostport = netloc.rsplit("@", 1)
    if ":" in userinfo:
        user, password = userinfo.split(":", 1)
        return user, password, hostport
    return userinfo, None, hostport


def credentials(endpoint: str, secret: str | None = None) -> Credentials:
    """The user name and password a connection to ``endpoint`` presents (decoded)."""
    user, password, _ = split_netloc(urlsplit(endpoint).netloc)
    return Credentials(
        user=unquote(user) if user else None,
        password=secret if secret is not None else (unquote(password) if password else None),
    )


def without_credentials(endpoint: str) -> str:
    """The endpoint with no user name or password in it: safe to show and to log."""
    parts = urlsplit(endpoint)
    _, _, hostport = split_netloc(parts.netloc)
    return urlunsplit(parts._replace(netloc=hostport))


def without_password(endpoint: str) -> str:
    """The endpoint with its user name but no password (``amqp://app@host/vhost``)."""
    parts = urlsplit(endpoint)
    user, _, hostport = split_netloc(parts.netloc)
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc))


def split_secret(endpoint: str) -> tuple[str, str | None]:
    """(the endpoint without its password, the password or None): for storing the password
    encrypted apart from the URL and passing it back as ``TargetSpec.secret``."""
    user, password, _ = split_netloc(urlsplit(endpoint).netloc)
    del user
    return without_password(endpoint), (unquote(password) if password else None)


def with_password(endpoint: str, password: str | None, *, default_user: str = "") -> str:
    """The endpoint with ``password`` (percent-encoded) for its user; ``None``: unchanged."""
    if password is None:
        return endpoint
    parts = urlsplit(endpoint)
    user, _, hostport = split_netloc(parts.netloc)
    user = user if user is not None else quote(default_user, safe="")
    netloc = f"{user}:{quote(password, safe='')}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc))


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret replaced by ``***`` (library error messages may
    quote the URL they were given)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
            quoted = quote(s, safe="")
            if quoted != s:
                text = text.replace(quoted, "***")
    return text
