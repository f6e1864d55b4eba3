"""Where event targets may point: a tenant must not turn a target into a way into the
operator's network. An endpoint's host is resolved and every address it gives is checked:
link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
100.100.100.200) and this server's own ports on its own addresses are refused; the operator
lists further refused ranges (``OBJECTSTORE_EVENT_TARGETS_DENY``) or the only allowed ones
(``OBJECTSTORE_EVENT_TARGETS_ALLOW``, which also lifts the built-in refusal for what it
lists). Checked when a target is made and again each time its deliverer connects."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...domain.notifications import EndpointRefused

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

BUILT_IN_DENY: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"))
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointRefused(f"the endpoint's host {host!r} does not resolve ({exc})") from None
    return sorted({str(info[4][0]) for info in infos})


def _plain(addr: Address) -> Address:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(frozen=True)
class Guard:
    deny: Sequence[Network] = ()
    allow: Sequence[Network] = ()
    own_ports: frozenset[int] = frozenset()
    own_hosts: frozenset[str] = frozenset()
    resolver: Resolver = resolve

    def _own(self, addr: Address) -> bool:
        if addr.is_loopback or addr.is_unspecified:
            return True
        if str(addr) in self.own_hosts:
            return True
        try:
            local = {str(_plain(ipaddress.ip_address(a))) for a in
                     resolve(socket.gethostname(), 0)}
        except EndpointRefused:
            local = set()
        return str(addr) in local

    def check(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, all allowed; EndpointRefused otherwise."""
        addresses = self.resolver(host, port)
        if not addresses:
            raise EndpointRefused(f"the endpoint's host {host!r} does not resolve")
        for text in addresses:
            addr = _plain(ipaddress.ip_address(text.split("%", 1)[0]))
            allowed = any(addr in n for n in self.allow if n.version == addr.version)
            if self.allow and not allowed:
                raise EndpointRefused(f"the endpoint {host}:{port} resolves to {addr}, outside "
                                      "the ranges event targets may reach")
            if not allowed and any(addr in n for n in (*BUILT_IN_DENY, *self.deny)
                                   if n.version == addr.version):
                raise EndpointRefused(f"the endpoint {host}:{port} resolves to {addr}, a "
                                      "link-local, metadata or otherwise refused address")
            if port in self.own_ports and self._own(addr):
                raise EndpointRefused(f"the endpoint {host}:{port} is this server's own "
                                      "port")
        return addresses
