"""IP allow-lists (DESIGN 4.9): 1–30 IPv4/IPv6 addresses or CIDR ranges, normalised; never the whole
internet; private, loopback and other non-public ranges only where the caller allows them (development).
One place for the application form, the grant and API keys."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

MAX_ENTRIES = 30
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowlistError(ValueError):
    """`str(error)` is a sentence for the person who typed the list."""


# Where no client on the internet connects from: private (RFC 1918, unique-local), shared (CGNAT), loopback,
# link-local, "this network", multicast. (Documentation ranges such as 203.0.113.0/24 stay allowed: they
# are what examples and tests use, and no real connection comes from them.)
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    "::ffff:0:0/96",
))


def _public(network: Network) -> bool:
    return not any(network.version == blocked.version and network.overlaps(blocked) for blocked in NOT_PUBLIC)


def public_address(address: str) -> bool:
    """Whether one client address (as stored for a sign-up or an agreement) is a public one; an
    unparseable address is not."""
    try:
        return _public(ipaddress.ip_network((address or "").strip(), strict=False))
    except ValueError:
        return False


def parse_allowlist(entries: Iterable[str], *, allow_private: bool = False,
                    max_entries: int = MAX_ENTRIES) -> list[str]:
    """The entries normalised (a single address without a prefix, a range as its network), in order,
    without duplicates. Raises AllowlistError naming the first bad entry."""
    normalised: list[str] = []
    for raw in entries:
        entry = (raw or "").strip()
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise AllowlistError(f"“{entry}” is not an IPv4 or IPv6 address or CIDR range.") from exc
        if network.prefixlen == 0:
            raise AllowlistError(f"“{entry}” would allow the whole internet; list your own addresses.")
        if not allow_private and not _public(network):
            raise AllowlistError(f"“{entry}” is a private, loopback or reserved address: list the public "
                                 "addresses your systems connect from.")
        text = str(network.network_address) if network.num_addresses == 1 and "/" not in entry else str(network)
        if text not in normalised:
            normalised.append(text)
    if len(normalised) > max_entries:
        raise AllowlistError(f"List at most {max_entries} addresses or ranges.")
    return normalised


@lru_cache(maxsize=4096)
def network_of(entry: str) -> Network:
    return ipaddress.ip_network(entry, strict=False)


def network_within(entry: str, allowlist: Iterable[str]) -> bool:
    """Whether the whole of `entry` (an address or range) lies inside one entry of `allowlist`."""
    inner = network_of(entry)
    for outer_entry in allowlist:
        outer = network_of(outer_entry)
        if inner.version == outer.version and inner.subnet_of(outer):
            return True
    return False


@lru_cache(maxsize=65536)
def client_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a client calls from (IPv4-mapped IPv6 addresses count as IPv4), or None when it is not
    one. Cached: a market maker's few addresses come back on every signed request."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_allowed(address: str, allowlist: Iterable[str]) -> bool:
    """Whether one client address lies inside the allow-list."""
    ip = client_address(address)
    if ip is None:
        return False
    for entry in allowlist:
        network = network_of(entry)
        if ip.version == network.version and ip in network:
            return True
    return False
