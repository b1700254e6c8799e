"""SSRF guard for every outbound request (ARCHITECTURE.md §6).

A target is checked by the addresses its host resolves to, not by how the URL
spells it: ``0x7f000001``, ``2130706433`` and ``0177.0.0.1`` all resolve to
127.0.0.1 and are refused like it. Every resolved address must be public; the
client then connects to the checked address itself, so a second DNS answer
(rebinding) can never reach a private one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kith.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_HINT = "allow it with KITH_WEBHOOK_ALLOWED_HOSTS"

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack…
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValidationFailed):
    """The URL may not be called: bad scheme, unresolvable host, or a non-public address."""

    def __init__(self, message: str, *, field: str = "url") -> None:
        super().__init__(message, details=[{"field": field, "message": message}])


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str  # as written in the URL (lower case, IPv6 without brackets)
    port: int
    address: IPAddress  # the checked address the client connects to
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True)
class Allowlist:
    """``KITH_WEBHOOK_ALLOWED_HOSTS``: host names, addresses and CIDR networks."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().strip("[]").lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.names

    def allows_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == net.version and candidate in net
            for candidate in candidates
            for net in self.networks
        )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_NETWORK:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(packed[12:])
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public target (None when it is)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"an IPv6 form of {embedded}, {inner}" if inner else None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_NETWORK:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        # Normalize through ipaddress: whatever the URL said, this is what we connect to.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def check_url(
    url: str,
    allowed_hosts: Sequence[str] = (),
    *,
    label: str = "webhook target",
    field: str = "url",
) -> Target:
    """Check ``url`` and resolve it once; raise :class:`UnsafeTarget` when it may not be
    called. ``allowed_hosts`` (host names, addresses, CIDRs) lifts the address rules."""
    try:
        parts = urlsplit(url.strip())
        port_value = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"{label} {url!r} is not a valid URL.", field=field) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget(f"{label} must be an http or https URL.", field=field)
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeTarget(f"{label} {url!r} has no host.", field=field)
    port = port_value or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeTarget(f"{label} {host} cannot be resolved.", field=field)
    allow = Allowlist.parse(allowed_hosts)
    if not allow.allows_host(host):
        for address in addresses:
            reason = None if allow.allows_address(address) else refusal_reason(address)
            if reason is not None:
                shown = host if host == str(address) else f"{host} ({address})"
                raise UnsafeTarget(f"{label} {shown} is {reason}; {ALLOW_HINT}.", field=field)
    return Target(
        url=url.strip(),
        scheme=scheme,
        host=host,
        port=port,
        address=addresses[0],
        addresses=tuple(addresses),
    )
