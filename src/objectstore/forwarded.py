"""The client's address, scheme and host: the one place both planes learn them.

A directly connected client is its own TCP peer: whatever ``X-Forwarded-For``, ``X-Real-IP``,
``Forwarded``, ``X-Forwarded-Proto`` or ``X-Forwarded-Host`` it sends is ignored. Only when
the peer is a proxy the operator lists (``OBJECTSTORE_TRUSTED_PROXIES``: IPs and CIDRs,
default none) do those headers count, and then the client is the first address, walking the
chain from the right (the hop nearest to us), that is not itself a trusted proxy: the
left-most entries of ``X-Forwarded-For`` are whatever the client wrote, so they are never
taken while an untrusted hop stands between.

:class:`ClientView` rewrites the ASGI scope's ``client``, ``scheme`` and ``Host`` header once,
in front of both planes, so bucket policy conditions (``aws:SourceIp``,
``aws:SecureTransport``), access logs, the console's sign-in throttle and its origin check
all see the same answer. The TCP peer stays in ``scope[PEER]``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias

from starlette.types import ASGIApp, Receive, Scope, Send

PEER = "objectstore.peer"  # the TCP peer, when a trusted proxy named another client

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_FORWARDING = frozenset({b"x-forwarded-for", b"x-real-ip", b"forwarded",
                         b"x-forwarded-proto", b"x-forwarded-host"})


def parse_trusted_proxies(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.5, 10.1.0.0/16, ::1"`` -> networks; raises ValueError naming a bad entry."""
    networks: list[Network] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR block "
                             "(e.g. 10.0.0.5 or 10.0.0.0/8)") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An IP address from a header entry: ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``,
    ``::1`` or a quoted ``Forwarded`` ``for=`` value; None for anything else ("unknown",
    obfuscated identifiers, garbage)."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_elements(value: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded``: one dict per hop (lower-case parameter names)."""
    hops = []
    for element in value.split(","):
        params: dict[str, str] = {}
        for pair in element.split(";"):
            name, sep, val = pair.partition("=")
            if sep:
                params[name.strip().lower()] = val.strip().strip('"')
        hops.append(params)
    return hops


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class TrustedProxies:
    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: Address | str | None) -> bool:
        if isinstance(address, str):
            address = _address(address)
        if address is None or not self.networks:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == n.version and address in n for n in self.networks)

    def resolve(self, peer: str, headers: dict[bytes, bytes]
                ) -> tuple[str, str | None, str | None]:
        """(client address, scheme or None, host or None) of a request from ``peer``."""
        if not self.trusts(peer):
            return peer, None, None
        hops: list[str] = []
        proto = host = None
        forwarded = headers.get(b"x-forwarded-for")
        if forwarded is not None:
            hops = _csv(forwarded.decode("latin-1"))
        elif b"forwarded" in headers:
            elements = _forwarded_elements(headers[b"forwarded"].decode("latin-1"))
            hops = [e.get("for", "") for e in elements]
            last = elements[-1] if elements else {}
            proto, host = last.get("proto"), last.get("host")
        elif b"x-real-ip" in headers:
            hops = [headers[b"x-real-ip"].decode("latin-1").strip()]
        client = peer
        for hop in reversed(hops):  # nearest first: stop at the first hop we do not trust
            address = _address(hop)
            if address is None:
                break  # an entry we cannot read: the chain is not trustworthy past here
            client = str(address)
            if not self.trusts(address):
                break
        if b"x-forwarded-proto" in headers:
            proto = (_csv(headers[b"x-forwarded-proto"].decode("latin-1")) or [""])[-1]
        if b"x-forwarded-host" in headers:
            host = (_csv(headers[b"x-forwarded-host"].decode("latin-1")) or [""])[-1]
        proto = proto.lower() if proto and proto.lower() in ("http", "https") else None
        return client, proto, host or None


class ClientView:
    """ASGI wrapper: the scope's ``client``, ``scheme`` and ``Host`` as the client sees them
    (forwarded headers from trusted proxies only). The forwarding headers stay in the scope
    (a client may have signed them) but nothing further in reads them."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app, self.proxies = app, proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = scope.get("headers") or []
        if not any(name in _FORWARDING for name, _ in raw):
            await self.app(scope, receive, send)
            return
        peer_tuple = scope.get("client")
        peer = str(peer_tuple[0]) if peer_tuple else ""
        headers: dict[bytes, bytes] = {}
        for name, value in raw:
            if name in _FORWARDING:  # repeated headers join as one list, as HTTP says
                headers[name] = headers[name] + b"," + value if name in headers else value
        client, proto, host = self.proxies.resolve(peer, headers)
        scope = dict(scope)
        if client != peer:
            scope[PEER] = peer
            scope["client"] = (client, 0)
        if proto is not None:
            scope["scheme"] = proto if scope["type"] == "http" else \
                ("wss" if proto == "https" else "ws")
        if host is not None:
            scope["headers"] = [(n, v) for n, v in raw if n != b"host"] + [
                (b"host", host.encode("latin-1"))]
        await self.app(scope, receive, send)


def client_view(app: ASGIApp, proxies: TrustedProxies) -> ASGIApp:
    """``app`` behind a ``ClientView``, or ``app`` itself when no proxy is listed (the
    default): then every forwarded header is ignored anyway, and the S3 plane's hot path
    pays no extra layer and header scan per request."""
    return ClientView(app, proxies) if proxies.networks else app
