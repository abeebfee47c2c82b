"""The public-address rule: which IP addresses a fetch may reach, and resolving host names under it."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jobs.rules.stays import SyncFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
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
    """Host names and IPs/CIDRs exempt from the public-address rule (FETCH_ALLOW_HOSTS), each on
    any port or, written `host:port` / `[v6]:port`, on that port only."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    name_ports: frozenset[tuple[str, int]] = frozenset()
    network_ports: tuple[tuple[IPNetwork, int], ...] = ()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> AllowList:
        """Build from a comma-separated list such as "127.0.0.1:5000,localhost,10.0.0.0/8,[::1]:8080"."""
        items = text.split(",") if isinstance(text, str) else list(text or [])
        names: set[str] = set()
        networks: list[IPNetwork] = []
        name_ports: set[tuple[str, int]] = set()
        network_ports: list[tuple[IPNetwork, int]] = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            host, port = _split_port(item)
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                network = None
            if network is not None and port is None:
                networks.append(network)
            elif network is not None:
                network_ports.append((network, port))
            elif port is None:
                names.add(host.lower().rstrip("."))
            else:
                name_ports.add((host.lower().rstrip("."), port))
        return cls(frozenset(names), tuple(networks), frozenset(name_ports), tuple(network_ports))

    def allows_host(self, host: str, port: int | None = None) -> bool:
        """True when the host name itself is exempt (whatever it resolves to) on `port`; entries
        limited to a port never match when the port is not known."""
        name = host.lower().rstrip(".")
        return name in self.names or (port is not None and (name, port) in self.name_ports)

    def allows_ip(self, ip: IPAddress, port: int | None = None) -> bool:
        """True when the address falls in an exempt network (on `port`, for port-limited entries)."""
        if any(ip.version == net.version and ip in net for net in self.networks):
            return True
        return port is not None and any(port == only and ip.version == net.version and ip in net
                                        for net, only in self.network_ports)

    def allows(self, host: str, ip: IPAddress, port: int | None = None) -> bool:
        """True when a connection to `ip` (on `port`) for `host` is exempt from the rule."""
        return self.allows_host(host, port) or self.allows_ip(ip, port)


def _split_port(item: str) -> tuple[str, int | None]:
    """Split an allow-list entry into host (brackets removed) and port, if it names one."""
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"FETCH_ALLOW_HOSTS: cannot read {item!r} (write [v6] or [v6]:port)")
        return host, _port(item, rest[1:]) if rest else None
    if item.count(":") != 1:  # none, or a bare IPv6 address: no port
        return item, None
    host, _, port = item.partition(":")
    return host, _port(item, port)


def _port(item: str, text: str) -> int:
    """The port number of an allow-list entry, strictly: a typo must not widen or void the entry."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"FETCH_ALLOW_HOSTS: {item!r} has no valid port number (1-65535)")
    return int(text)


def check_ip(host: str, ip: IPAddress, allow: AllowList, port: int | None = None) -> None:
    """Raise SyncFailure("blocked_address") unless `ip` may be reached (on `port`) for `host`."""
    if not is_public_ip(ip) and not allow.allows(host, ip, port):
        where = f"{ip}" if port is None else f"{ip} port {port}"
        raise SyncFailure("blocked_address",
                          f"{host} points to {where}, which is not a public internet address")


def resolve_public(host: str, port: int, allow: AllowList,
                   resolver: Resolver = socket.getaddrinfo) -> list[IPAddress]:
    """Resolve `host` and return its addresses, refusing if ANY of them is non-public and not allowed."""
    if not host:
        raise SyncFailure("dns", "the address has no host name")
    if "%" in host:  # an IPv6 zone id ([fe80::1%eth0]) names one of our own network interfaces
        raise SyncFailure("blocked_address", f"the address {host} names a local network interface "
                          "(an IPv6 zone id), which is never public")
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
        check_ip(host, ip, allow, port)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise SyncFailure("dns", f"the host name {host} has no internet address")
    return addresses
