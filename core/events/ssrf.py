"""SSRF guard for every request the Hub makes to a URL a user gave it (webhooks, plugin
integrations, imports, ...).

    resolved = await check_url(url, allowlist)       # UnsafeURL (with .reason) if refused
    async with safe_client(allowlist, timeout=10) as client:
        await client.post(url, content=body)         # connects only to checked addresses

Rules: only http and https; no user:password@ in the URL; the host is resolved (every
address getaddrinfo gives, plus the legacy numeric forms such as 2130706433, 0x7f.1 and
0177.0.0.1) and refused if any address is loopback, private, link-local, multicast,
reserved, unspecified, shared (CGNAT 100.64.0.0/10), unique-local IPv6, a cloud metadata
address, or otherwise not globally routable; IPv4 embedded in IPv6 (::ffff:a.b.c.d, 6to4,
Teredo, NAT64) is judged as the IPv4 address it carries.

An allowlist (from config) lets chosen hosts through anyway: an entry is a host name
("hooks.internal", "*.corp.example"), an IP address or a CIDR network ("10.1.0.0/16").
A host-name entry admits whatever that name resolves to; an IP or network entry admits
those addresses under any name.

The check is made again when connecting, and the connection goes to exactly the address
that passed (`SafeTransport`), so a DNS answer that changes between the check and the
request (DNS rebinding) gains nothing. TLS still verifies the certificate for the host
name, and the Host header is the URL's host.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

ALLOWED_SCHEMES = ("http", "https")

# Checked before anything else: these are refused even when their network is allowlisted
# by a broad CIDR, unless the address itself (or a network no wider than /24 or /120 that
# holds it) is listed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS DNS over IPv6
    )
)

_NAMED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches localhost on Linux
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("192.0.0.0/24", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("198.18.0.0/15", "reserved"),
    ("fc00::/7", "unique local (IPv6 ULA)"),
    ("fec0::/10", "site-local"),
    ("64:ff9b:1::/48", "private"),
)
NAMED_NETWORKS = tuple((ipaddress.ip_network(net), reason) for net, reason in _NAMED_NETWORKS)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(ValueError):
    """The URL may not be fetched; `reason` says why (for a 400's details or a log)."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url


# -- the allowlist ------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # from "*.example.com": ".example.com"
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str] | "Allowlist" | None) -> "Allowlist":
        if isinstance(entries, Allowlist):
            return entries
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks = []
        for raw in entries or ():
            entry = str(raw).strip().lower().rstrip(".")
            if not entry:
                continue
            if entry.startswith("[") and entry.endswith("]"):
                entry = entry[1:-1]
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            elif "/" in entry or ":" in entry or " " in entry:
                raise ValueError(f"allowlist entry {raw!r} is neither a host name, an IP address nor a network")
            else:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def allows_host(self, host: str) -> bool:
        host = _normal_host(host)
        return host in self.hosts or any(host.endswith(suffix) for suffix in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)

    def allows_metadata(self, address: IPAddress) -> bool:
        narrow = 24 if address.version == 4 else 120
        return any(
            address in network and network.prefixlen >= narrow
            for network in self.networks
            if network.version == address.version
        )


# -- addresses ----------------------------------------------------------------------------


def address_refusal(address: IPAddress | str) -> str | None:
    """Why this address must not be reached (None: it is a public address)."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    if address.version == 6:
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return f"{reason} (IPv4 {embedded} inside IPv6)"
    for network, reason in NAMED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's (obfuscated-decoded) address
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def check_address(address: IPAddress | str, allowlist: Allowlist | Iterable[str] | None = None,
                  host_allowed: bool = False) -> IPAddress:
    """The address if it may be reached, else UnsafeURL."""
    allow = Allowlist.parse(allowlist)
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    reason = address_refusal(address)
    if reason is None:
        return address
    if address in METADATA_ADDRESSES:
        if allow.allows_metadata(address):
            return address
    elif host_allowed or allow.allows_address(address):
        return address
    raise UnsafeURL(f"address {address} is not allowed: {reason}")


def literal_address(host: str) -> IPAddress | None:
    """The address a host string stands for without DNS: standard IPv4/IPv6 literals and
    the legacy IPv4 forms inet_aton accepts (2130706433, 0x7f.1, 0177.0.0.1, 127.1)."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


# -- URLs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedURL:
    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...] = field(default_factory=tuple)
    allowlisted: bool = False


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """Syntax only (no DNS): http(s), a host, no user info. UnsafeURL otherwise."""
    text = str(url)
    if any(ord(c) < 0x21 or c == "\\" for c in text):
        raise UnsafeURL("URL contains spaces, control characters or backslashes", text)
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError) as error:
        raise UnsafeURL(f"not a valid URL: {error}", text) from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL("scheme must be http or https", text)
    if parsed.userinfo:
        raise UnsafeURL("URL must not contain a user name or password", text)
    if not parsed.host:
        raise UnsafeURL("URL has no host", text)
    return parsed


def _normal_host(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


async def resolve_host(host: str, port: int, allowlist: Allowlist | Iterable[str] | None = None,
                       resolve: Resolver | None = None) -> tuple[list[IPAddress], bool]:
    """Every address of `host`, each checked; (addresses, host allowlisted). UnsafeURL if
    the host does not resolve or any of its addresses is refused."""
    allow = Allowlist.parse(allowlist)
    name = _normal_host(host)
    host_allowed = allow.allows_host(name)
    literal = literal_address(name)
    if literal is not None:
        raw = [str(literal)]
    else:
        try:
            raw = await (resolve or system_resolve)(name, port)
        except (OSError, UnicodeError) as error:
            raise UnsafeURL(f"host {name!r} does not resolve: {error}") from None
    addresses: list[IPAddress] = []
    for text in raw:
        address = ipaddress.ip_address(str(text).split("%", 1)[0])
        check_address(address, allow, host_allowed)  # any bad address refuses the host
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeURL(f"host {name!r} does not resolve")
    return addresses, host_allowed


async def check_url(url: str | httpx.URL, allowlist: Allowlist | Iterable[str] | None = None, *,
                    resolve: Resolver | None = None) -> ResolvedURL:
    """Parse, resolve and check `url`; UnsafeURL (with `.reason`) if it may not be fetched."""
    parsed = parse_url(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses, allowed = await resolve_host(parsed.host, port, allowlist, resolve)
    except UnsafeURL as error:
        raise UnsafeURL(error.reason, str(url)) from None
    return ResolvedURL(parsed, _normal_host(parsed.host), port, tuple(addresses), allowed)


# -- an httpx client that connects only to checked addresses ------------------------------


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host of every new connection, then connects to a checked
    address (so the address used is the address checked)."""

    def __init__(self, allowlist: Allowlist | Iterable[str] | None = None, resolve: Resolver | None = None,
                 backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allowlist = Allowlist.parse(allowlist)
        self.resolve = resolve
        self.backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None):
        try:
            addresses, _ = await asyncio.wait_for(
                resolve_host(host, port, self.allowlist, self.resolve), timeout
            )
        except asyncio.TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self.backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None):
        raise UnsafeURL("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


@functools.lru_cache(maxsize=1)
def default_ssl_context() -> ssl.SSLContext:
    """Certificate-verifying context, built once (building one costs tens of ms)."""
    return httpx.create_ssl_context()


class SafeTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection passes the SSRF check. It ignores proxy
    environment variables (a proxy would make the checked address meaningless)."""

    def __init__(self, allowlist: Allowlist | Iterable[str] | None = None, *, resolve: Resolver | None = None,
                 verify: Any = True, http2: bool = False, limits: httpx.Limits = httpx.Limits(
                     max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)) -> None:
        if verify is True:
            verify = default_ssl_context()
        super().__init__(verify=verify, trust_env=False, http2=http2, limits=limits)
        ssl_context = self._pool._ssl_context  # type: ignore[attr-defined]
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=GuardedNetworkBackend(allowlist, resolve),
        )


def safe_client(allowlist: Allowlist | Iterable[str] | None = None, *, timeout: float | httpx.Timeout = 10.0,
                resolve: Resolver | None = None, verify: Any = True, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient for user-supplied URLs: SSRF-checked connections, no proxies
    from the environment, no redirects followed (a redirect could point anywhere; pass
    follow_redirects=True to follow them: each hop's connection is checked too)."""
    kwargs.setdefault("follow_redirects", False)
    return httpx.AsyncClient(
        transport=SafeTransport(allowlist, resolve=resolve, verify=verify), timeout=timeout, trust_env=False, **kwargs
    )


def hub_allowlist() -> Allowlist:
    """The Hub's configured allowlist (`[webhooks] allowlist`) for the current app."""
    from core.kernel.hub import current_hub

    return Allowlist.parse(current_hub().settings.webhooks.allowlist)


def is_unsafe_error(error: BaseException) -> UnsafeURL | None:
    """The UnsafeURL behind an exception raised from a safe client, if that is what it is."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, UnsafeURL):
            return error
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
        seen += 1
    return None


__all__: Sequence[str] = (
    "Allowlist", "ResolvedURL", "SafeTransport", "UnsafeURL", "address_refusal", "check_address",
    "check_url", "hub_allowlist", "literal_address", "parse_url", "safe_client",
)
