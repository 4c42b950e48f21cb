"""Who is on the other end: the client's address, behind trusted proxies too."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable

from quart import request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(trusted_proxies: Iterable[str] = ()) -> str:
    """The request's peer address or, when the peer is a trusted proxy (`[rate_limits]
    trusted_proxies`), the nearest untrusted address of X-Forwarded-For."""
    remote = request.remote_addr or "unknown"
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(remote, networks):
        return remote
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not _trusted(address, networks):
            return address
    return forwarded[0] if forwarded else remote
