"""The public-address rule: which IP addresses a fetch may reach, and resolving host names under it."""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable, Iterable, Union

from jobs.stays import SyncFailure

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Resolver = Callable[..., list]  # same shape as socket.getaddrinfo

_net = ipaddress.ip_network

# Written out rather than trusting `is_private`/`is_global`, whose tables changed between Python releases.
_BLOCKED_V4: tuple[IPNetwork, ...] = tuple(_net(n) for n in (
    "0.0.0.0/8",  # "this network", incl. the unspecified 0.0.0.0
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # private
    "100.64.0.0/10",  # carrier-grade NAT: often reaches internal workloads
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "198.18.0.0/15",  # benchmarking
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, incl. broadcast 255.255.255.255
))

# Only global unicast (2000::/3) can be public; these are the special ranges inside it.
_GLOBAL_UNICAST_V6 = _net("2000::/3")
_BLOCKED_V6: tuple[IPNetwork, ...] = tuple(_net(n) for n in (
    "2001::/23",  # IETF protocol assignments, incl. Teredo (its client address is obfuscated)
    "2001:db8::/32", "3fff::/20",  # documentation
))
_NAT64_WELL_KNOWN = _net("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits
_IPV4_COMPATIBLE = _net("::/96")  # deprecated ::a.b.c.d form, still routed by some stacks


def parse_ip(value: str) -> IPAddress | None:
    """The IP address written in `value` (brackets and IPv6 zone ids tolerated), or None."""
    text = value.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_ip(ip: IPAddress | str) -> bool:
    """True when `ip` is an ordinary public unicast address that a fetch may reach."""
    address = parse_ip(ip) if isinstance(ip, str) else ip
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return _is_public_v4(inner)
        return (address in _GLOBAL_UNICAST_V6
                and not any(address in net for net in _BLOCKED_V6)
                and not address.is_private)
    return _is_public_v4(address)


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    """The IPv4 half of the rule."""
    return not any(ip in net for net in _BLOCKED_V4) and not ip.is_private


@dataclass(frozen=True)
class AllowList:
    """Host names and IPs/CIDRs exempt from the public-address rule (FETCH_ALLOW_HOSTS)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> "AllowList":
        """Build from a comma-separated list such as "127.0.0.1,localhost,10.0.0.0/8"."""
        items = text.split(",") if isinstance(text, str) else list(text or [])
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                names.add(item.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """True when the host name itself is exempt (whatever it resolves to)."""
        return host.lower().rstrip(".") in self.names

    def allows_ip(self, ip: IPAddress) -> bool:
        """True when the address falls in an exempt network."""
        return any(ip.version == net.version and ip in net for net in self.networks)

    def allows(self, host: str, ip: IPAddress) -> bool:
        """True when a connection to `ip` for `host` is exempt from the rule."""
        return self.allows_host(host) or self.allows_ip(ip)


def check_ip(host: str, ip: IPAddress, allow: AllowList) -> None:
    """Raise SyncFailure("blocked_address") unless `ip` may be reached for `host`."""
    if not is_public_ip(ip) and not allow.allows(host, ip):
        raise SyncFailure("blocked_address",
                          f"{host} points to {ip}, which is not a public internet address")


def resolve_public(host: str, port: int, allow: AllowList,
                   resolver: Resolver = socket.getaddrinfo) -> list[IPAddress]:
    """Resolve `host` and return its addresses, refusing if ANY of them is non-public and not allowed."""
    if not host:
        raise SyncFailure("dns", "the address has no host name")
    try:
        infos = resolver(host.strip("[]"), port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise SyncFailure("dns", f"the host name {host} could not be resolved ({exc})") from exc
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = parse_ip(str(sockaddr[0]))
        if ip is None:
            continue
        # One bad answer taints the name: an attacker controls the order the records come back in.
        check_ip(host, ip, allow)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise SyncFailure("dns", f"the host name {host} has no internet address")
    return addresses
