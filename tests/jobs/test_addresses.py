"""The public-address rule and resolving under it."""
import ipaddress
import socket

import pytest
from hypothesis import given, strategies as st

from jobs.addresses import AllowList, is_public_ip, resolve_public
from jobs.stays import SyncFailure

NON_PUBLIC = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.1.1", "0.0.0.0", "0.1.2.3",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.51.100.7",
    "203.0.113.9", "198.18.0.1", "192.0.0.170", "192.88.99.1",
    "::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1", "::10.0.0.1",
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
    "2001:db8::1", "3fff::1", "2001::1", "5f00::1", "100::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1",
          "2606:4700:4700::1111", "2a00:1450:4007:80f::200e", "::ffff:8.8.8.8", "2002:0808:0808::1",
          "64:ff9b::8.8.8.8"]


@pytest.mark.parametrize("ip", NON_PUBLIC)
def test_non_public_addresses_are_refused(ip):
    assert is_public_ip(ip) is False
    assert is_public_ip(ipaddress.ip_address(ip)) is False


@pytest.mark.parametrize("ip", PUBLIC)
def test_ordinary_public_addresses_are_accepted(ip):
    assert is_public_ip(ip) is True


def test_garbage_is_not_a_public_address():
    assert is_public_ip("not-an-ip") is False


@given(st.ip_addresses(v=4, network="127.0.0.0/8") | st.ip_addresses(v=4, network="10.0.0.0/8")
       | st.ip_addresses(v=4, network="100.64.0.0/10") | st.ip_addresses(v=4, network="169.254.0.0/16"))
def test_every_address_in_internal_ranges_is_refused_also_when_ipv6_mapped(ip):
    assert not is_public_ip(ip)
    assert not is_public_ip(ipaddress.IPv6Address(f"::ffff:{ip}"))
    assert not is_public_ip(ipaddress.IPv6Address(f"64:ff9b::{ip}"))


def fixed_resolver(*answers):
    """A getaddrinfo stand-in that answers the given IPs (the DNS is not ours to mock, it is input)."""
    def resolve(host, port, family=0, type=0, *rest):
        out = []
        for ip in answers:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = (ip, port, 0, 0) if fam == socket.AF_INET6 else (ip, port)
            out.append((fam, socket.SOCK_STREAM, 6, "", addr))
        return out
    return resolve


def test_resolve_public_returns_the_addresses_of_a_public_name():
    ips = resolve_public("cal.example", 443, AllowList(), resolver=fixed_resolver("8.8.8.8", "2606:4700::1"))
    assert [str(ip) for ip in ips] == ["8.8.8.8", "2606:4700::1"]


def test_one_internal_answer_among_public_ones_blocks_the_name():
    with pytest.raises(SyncFailure) as info:
        resolve_public("rebind.example", 80, AllowList(), resolver=fixed_resolver("8.8.8.8", "10.0.0.5"))
    assert info.value.kind == "blocked_address"
    assert "10.0.0.5" in info.value.message


def failing_resolver(*args):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def test_unresolvable_name_is_a_dns_failure():
    with pytest.raises(SyncFailure) as info:
        resolve_public("no-such-host.invalid", 80, AllowList(), resolver=failing_resolver)
    assert info.value.kind == "dns"


@pytest.mark.parametrize("literal", ["2130706433", "0x7f.1", "017700000001", "127.1", "0x7f000001",
                                     "0177.0.0.1"])
def test_integer_octal_and_hex_host_literals_are_seen_as_loopback(literal):
    with pytest.raises(SyncFailure) as info:
        resolve_public(literal, 80, AllowList())
    assert info.value.kind == "blocked_address"
    assert "127.0.0.1" in info.value.message


def test_localhost_is_blocked_without_an_allowance():
    with pytest.raises(SyncFailure) as info:
        resolve_public("localhost", 80, AllowList())
    assert info.value.kind == "blocked_address"


def test_ipv6_mapped_loopback_literal_is_blocked():
    with pytest.raises(SyncFailure) as info:
        resolve_public("::ffff:127.0.0.1", 80, AllowList())
    assert info.value.kind == "blocked_address"


def test_allow_list_parses_names_ips_and_networks():
    allow = AllowList.parse(" 127.0.0.1, Calendar.Test ,10.0.0.0/8,,::1 ")
    assert allow.names == frozenset({"calendar.test"})
    assert allow.allows_ip(ipaddress.ip_address("127.0.0.1"))
    assert allow.allows_ip(ipaddress.ip_address("10.200.0.1"))
    assert allow.allows_ip(ipaddress.ip_address("::1"))
    assert not allow.allows_ip(ipaddress.ip_address("127.0.0.2"))
    assert allow.allows_host("CALENDAR.test.")


def test_allowed_ip_passes_and_others_still_fail():
    allow = AllowList.parse("127.0.0.1")
    assert [str(ip) for ip in resolve_public("127.0.0.1", 80, allow)] == ["127.0.0.1"]
    with pytest.raises(SyncFailure):
        resolve_public("x.test", 80, allow, resolver=fixed_resolver("127.0.0.1", "192.168.0.1"))


def test_allowed_host_name_passes_whatever_it_resolves_to():
    allow = AllowList.parse("calendar.test")
    ips = resolve_public("calendar.test", 80, allow, resolver=fixed_resolver("192.168.5.5"))
    assert [str(ip) for ip in ips] == ["192.168.5.5"]
    with pytest.raises(SyncFailure):
        resolve_public("other.test", 80, allow, resolver=fixed_resolver("192.168.5.5"))


def test_empty_allow_list_from_unset_variable():
    assert AllowList.parse("") == AllowList()
    assert AllowList.parse(None) == AllowList()
