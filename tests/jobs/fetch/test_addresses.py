"""The public-address rule and resolving under it."""
import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.fetch.addresses import AllowList, is_public_ip, resolve_public
from jobs.rules.stays import SyncFailure

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


def blocked(host, port, allow, resolver=socket.getaddrinfo) -> SyncFailure:
    with pytest.raises(SyncFailure) as info:
        resolve_public(host, port, allow, resolver=resolver)
    assert info.value.kind == "blocked_address"
    return info.value


def test_ip_with_port_allows_only_that_port():
    allow = AllowList.parse("127.0.0.1:5000")
    assert [str(ip) for ip in resolve_public("127.0.0.1", 5000, allow)] == ["127.0.0.1"]
    assert "port 5001" in blocked("127.0.0.1", 5001, allow).message
    blocked("127.0.0.1", 80, allow)
    blocked("127.0.0.2", 5000, allow)
    # A name resolving to the allowed address is let through on the allowed port only.
    assert resolve_public("demo.test", 5000, allow, resolver=fixed_resolver("127.0.0.1"))
    blocked("demo.test", 6379, allow, resolver=fixed_resolver("127.0.0.1"))


def test_bracketed_ipv6_with_port_allows_only_that_port():
    allow = AllowList.parse("[::1]:8080")
    assert [str(ip) for ip in resolve_public("::1", 8080, allow)] == ["::1"]
    blocked("::1", 8081, allow)
    assert not allow.allows_ip(ipaddress.ip_address("::1"))  # port unknown: the entry does not match
    assert allow.allows_ip(ipaddress.ip_address("::1"), 8080)


def test_host_name_with_port_allows_only_that_port_whatever_it_resolves_to():
    allow = AllowList.parse("Calendar.Test:8443")
    assert resolve_public("calendar.test.", 8443, allow, resolver=fixed_resolver("192.168.5.5"))
    blocked("calendar.test", 443, allow, resolver=fixed_resolver("192.168.5.5"))
    blocked("other.test", 8443, allow, resolver=fixed_resolver("192.168.5.5"))
    assert allow.names == frozenset() and allow.name_ports == frozenset({("calendar.test", 8443)})


def test_network_with_port_and_plain_entries_side_by_side():
    allow = AllowList.parse("10.0.0.0/8:8080, [fd00::/8]:443, localhost, 192.168.0.0/16, ::1")
    assert allow.allows_ip(ipaddress.ip_address("10.9.9.9"), 8080)
    assert not allow.allows_ip(ipaddress.ip_address("10.9.9.9"), 80)
    assert allow.allows_ip(ipaddress.ip_address("fd12::1"), 443)
    assert not allow.allows_ip(ipaddress.ip_address("fd12::1"), 80)
    # Entries without a port keep allowing every port, as before.
    assert allow.allows_ip(ipaddress.ip_address("192.168.1.1"), 6379)
    assert allow.allows_ip(ipaddress.ip_address("::1"), 1)
    assert allow.allows_host("localhost", 22) and allow.allows_host("localhost")


@pytest.mark.parametrize("entry", ["127.0.0.1:", "127.0.0.1:http", "localhost:0", "localhost:65536",
                                   "[::1]8080", "[::1", "[::1]:x"])
def test_unreadable_port_is_refused_rather_than_ignored(entry):
    with pytest.raises(ValueError) as info:
        AllowList.parse(f"calendar.test,{entry}")
    assert "FETCH_ALLOW_HOSTS" in str(info.value)


def test_fetch_reaches_the_allowed_port_and_not_another_loopback_port(httpserver):
    from werkzeug.serving import make_server

    from jobs.fetch.feed import FetchSession, FetchSettings, fetch_feed
    body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    httpserver.expect_request("/cal.ics").respond_with_data(body, content_type="text/calendar")
    other = make_server("127.0.0.1", 0, lambda environ, start: [])  # listening, never served
    try:
        settings = FetchSettings(allow=AllowList.parse(f"127.0.0.1:{httpserver.port}"),
                                 timeout_seconds=5)
        with FetchSession() as session:
            assert fetch_feed(httpserver.url_for("/cal.ics"), settings, session=session).body == body
            with pytest.raises(SyncFailure) as info:
                fetch_feed(f"http://127.0.0.1:{other.port}/cal.ics", settings, session=session)
        assert info.value.kind == "blocked_address"
    finally:
        other.server_close()


def test_redirect_from_the_allowed_port_to_another_loopback_port_is_blocked(httpserver):
    from jobs.fetch.feed import FetchSession, FetchSettings, fetch_feed
    redis_like = socket.socket()
    redis_like.bind(("127.0.0.1", 0))
    redis_like.listen(1)
    try:
        port = redis_like.getsockname()[1]
        httpserver.expect_request("/cal.ics").respond_with_data(
            "", status=302, headers={"Location": f"http://127.0.0.1:{port}/"})
        settings = FetchSettings(allow=AllowList.parse(f"127.0.0.1:{httpserver.port}"),
                                 timeout_seconds=5)
        with FetchSession() as session, pytest.raises(SyncFailure) as info:
            fetch_feed(httpserver.url_for("/cal.ics"), settings, session=session)
        assert info.value.kind == "blocked_address" and f"port {port}" in info.value.message
        assert len(httpserver.log) == 1  # the first hop was fetched, the second never sent
    finally:
        redis_like.close()
