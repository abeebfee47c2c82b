"""Link URL checks ("Link URL checks" in docs/api.md), source detection and comparison form."""
import base64
import socket

import pytest

from jobs.fetch.addresses import AllowList
from jobs.fetch.link_urls import LinkUrlError, check_link_url, detect_source, normalize_for_compare

NO_ALLOW = AllowList()


def public_resolver(host, port, *args):
    """Every name resolves to a public address: these tests are about the URL, not the DNS."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]


def unresolvable(host, port, *args):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def check(url, allow=NO_ALLOW, resolver=public_resolver):
    return check_link_url(url, allow, resolver=resolver)


def error_of(url, **kwargs) -> LinkUrlError:
    with pytest.raises(LinkUrlError) as info:
        check(url, **kwargs)
    return info.value


def test_airbnb_ical_url_is_accepted_as_is_with_its_source():
    url = "https://www.airbnb.co.uk/calendar/ical/1234567890123456789.ics?s=abcdef0123"
    checked = check(url)
    assert checked.url == url
    assert checked.source == "airbnb"


def test_webcal_is_stored_as_https():
    checked = check("webcal://calendar.google.com/calendar/ical/a%40gmail.com/public/basic.ics")
    assert checked.url == "https://calendar.google.com/calendar/ical/a%40gmail.com/public/basic.ics"
    assert checked.source == "google"


def test_surrounding_whitespace_and_host_case_are_cleaned():
    checked = check("  HTTP://WWW.VRBO.COM/icalendar/ABC.ics \n")
    assert checked.url == "http://www.vrbo.com/icalendar/ABC.ics"
    assert checked.source == "vrbo"


@pytest.mark.parametrize("url", [
    "", "   ", "ftp://example.com/cal.ics", "file:///etc/passwd", "javascript:alert(1)",
    "example.com/cal.ics", "https://", "https:///path", "http://exa mple.com/x.ics",
    "https://user:secret@example.com/cal.ics", "https://token@example.com/cal.ics",
    "https://example.com:99999/cal.ics", "https://example.com:abc/cal.ics", "https://ex..ample.com/",
    "https://example.com/" + "a" * 3000, "https://exa\x00mple.com/",
])
def test_malformed_or_unsupported_urls_are_invalid_url(url):
    assert error_of(url).code == "invalid_url"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/cal.ics", "http://localhost:8080/cal.ics", "http://2130706433/",
    "http://0x7f.1/", "http://017700000001/", "http://[::1]/cal.ics", "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "webcal://192.168.1.10/cal.ics",
])
def test_urls_resolving_to_internal_addresses_are_blocked(url):
    error = error_of(url, resolver=socket.getaddrinfo)
    assert error.code == "blocked_address"


def test_allowed_loopback_is_accepted():
    checked = check("http://127.0.0.1:8080/cal.ics", allow=AllowList.parse("127.0.0.1"),
                    resolver=socket.getaddrinfo)
    assert checked.url == "http://127.0.0.1:8080/cal.ics"
    assert checked.source == "ical"



def test_loopback_allowed_on_one_port_only_accepts_that_port():
    allow = AllowList.parse("127.0.0.1:5000")
    assert check("http://127.0.0.1:5000/demo-feeds/a.ics", allow=allow,
                 resolver=socket.getaddrinfo).url == "http://127.0.0.1:5000/demo-feeds/a.ics"
    for url in ("http://127.0.0.1:6379/", "http://127.0.0.1/cal.ics", "https://127.0.0.1/cal.ics"):
        assert error_of(url, allow=allow, resolver=socket.getaddrinfo).code == "blocked_address"

def test_host_that_does_not_resolve_now_is_accepted():
    checked = check("https://calendar.newly-registered.example/feed.ics", resolver=unresolvable)
    assert checked.url == "https://calendar.newly-registered.example/feed.ics"


def test_google_embed_page_is_not_ical_with_suggested_address():
    error = error_of("https://calendar.google.com/calendar/embed?src=owner.villa%40gmail.com&ctz=Europe%2FMadrid")
    assert error.code == "not_ical_url"
    assert error.suggested_url == \
        "https://calendar.google.com/calendar/ical/owner.villa%40gmail.com/public/basic.ics"


def test_google_group_calendar_id_is_escaped_in_the_suggestion():
    error = error_of("https://calendar.google.com/calendar/b/1/embed?src=c_abc123%40group.calendar.google.com")
    assert error.suggested_url == \
        "https://calendar.google.com/calendar/ical/c_abc123%40group.calendar.google.com/public/basic.ics"


def test_google_htmlview_is_not_ical():
    error = error_of("https://www.google.com/calendar/htmlview?src=casa.sol%40gmail.com")
    assert error.code == "not_ical_url"
    assert error.suggested_url.endswith("/calendar/ical/casa.sol%40gmail.com/public/basic.ics")


def test_google_cid_in_base64_is_decoded_for_the_suggestion():
    cid = base64.urlsafe_b64encode(b"casa.luna@gmail.com").decode().rstrip("=")
    error = error_of(f"https://calendar.google.com/calendar/u/0?cid={cid}")
    assert error.code == "not_ical_url"
    assert error.suggested_url == "https://calendar.google.com/calendar/ical/casa.luna%40gmail.com/public/basic.ics"


def test_google_page_without_a_calendar_id_is_not_ical_without_suggestion():
    error = error_of("https://calendar.google.com/calendar/u/0/r")
    assert error.code == "not_ical_url"
    assert error.suggested_url is None


def test_google_xml_feed_is_not_ical_with_suggested_address():
    error = error_of("https://www.google.com/calendar/feeds/villa%40gmail.com/public/basic")
    assert error.code == "not_ical_url"
    assert error.suggested_url == "https://calendar.google.com/calendar/ical/villa%40gmail.com/public/basic.ics"


def test_google_private_xml_feed_suggests_the_private_ical_address():
    error = error_of("https://www.google.com/calendar/feeds/villa%40gmail.com/private-0a1b2c/basic")
    assert error.suggested_url == \
        "https://calendar.google.com/calendar/ical/villa%40gmail.com/private-0a1b2c/basic.ics"


def test_google_non_ical_page_is_recognised_even_when_dns_is_down():
    error = error_of("https://calendar.google.com/calendar/embed?src=a%40gmail.com", resolver=unresolvable)
    assert error.code == "not_ical_url"


def test_google_secret_and_legacy_ical_addresses_are_accepted():
    assert check("https://calendar.google.com/calendar/ical/a%40gmail.com/private-abc123/basic.ics").source == "google"
    assert check("https://www.google.com/calendar/ical/a%40gmail.com/public/basic.ics").source == "google"


@pytest.mark.parametrize("url, source", [
    ("https://www.airbnb.com/calendar/ical/1.ics?s=a", "airbnb"),
    ("https://www.airbnb.co.uk/calendar/ical/1.ics", "airbnb"),
    ("https://www.airbnb.com.au/calendar/ical/1.ics", "airbnb"),
    ("https://fr.airbnb.ca/calendar/ical/1.ics", "airbnb"),
    ("http://www.vrbo.com/icalendar/abc.ics", "vrbo"),
    ("https://www.homeaway.co.uk/icalendar/abc.ics", "vrbo"),
    ("https://www.abritel.fr/icalendar/abc.ics", "vrbo"),
    ("https://www.fewo-direkt.de/icalendar/abc.ics", "vrbo"),
    ("https://www.stayz.com.au/icalendar/abc.ics", "vrbo"),
    ("https://www.bookabach.co.nz/icalendar/abc.ics", "vrbo"),
    ("https://admin.booking.com/hotel/hoteladmin/ical.html?t=1-2", "booking"),
    ("https://ical.booking.com/v1/export?t=1-2", "booking"),
    ("https://calendar.google.com/calendar/ical/a%40gmail.com/public/basic.ics", "google"),
    ("https://www.google.com/calendar/ical/a%40gmail.com/public/basic.ics", "google"),
    ("webcal://calendar.google.com/calendar/ical/a%40gmail.com/public/basic.ics", "google"),
    ("https://www.9flats.com/calendar/1.ics", "9flats"),
    ("https://www.holidaylettings.co.uk/ical/123.ics", "holidaylettings"),
    ("https://rentals.tripadvisor.com/ical/123.ics", "holidaylettings"),
    ("https://www.flipkey.com/ical/123.ics", "holidaylettings"),
    ("https://ycs.agoda.com/en-us/api/ical/1.ics", "ical"),
    ("https://www.google.com/search?q=airbnb", "ical"),
    ("https://notairbnb.com/cal.ics", "ical"),
    ("https://airbnb.com.evil.example/cal.ics", "ical"),
    ("https://airbnb.evil.de/cal.ics", "ical"),
    ("not a url", "ical"),
])
def test_detect_source_by_host(url, source):
    assert detect_source(url) == source


@pytest.mark.parametrize("a, b", [
    ("https://Example.com/cal.ics", "https://example.com/cal.ics"),
    ("webcal://example.com/cal.ics", "https://example.com/cal.ics"),
    ("https://example.com:443/cal.ics", "https://example.com/cal.ics"),
    ("http://example.com:80/cal.ics", "HTTP://example.com/cal.ics  "),
    ("https://example.com", "https://example.com/"),
    ("https://example.com./cal.ics#frag", "https://example.com/cal.ics"),
])
def test_same_feed_spellings_compare_equal(a, b):
    assert normalize_for_compare(a) == normalize_for_compare(b)


@pytest.mark.parametrize("a, b", [
    ("https://example.com/Cal.ics", "https://example.com/cal.ics"),
    ("https://example.com/cal.ics?t=A", "https://example.com/cal.ics?t=a"),
    ("http://example.com/cal.ics", "https://example.com/cal.ics"),
    ("https://example.com:8443/cal.ics", "https://example.com/cal.ics"),
])
def test_different_feeds_do_not_compare_equal(a, b):
    assert normalize_for_compare(a) != normalize_for_compare(b)


@pytest.mark.parametrize("url, words", [
    ("https://www.airbnb.com/rooms/53897712?adults=2", "Airbnb page"),
    ("https://www.airbnb.co.uk/hosting/calendar", "Airbnb page"),
    ("https://www.airbnb.es/multicalendar/53897712", "Airbnb page"),
    ("https://www.vrbo.com/1234567", "Vrbo listing page"),
    ("https://www.vrbo.com/en-gb/1234567ha", "Vrbo listing page"),
    ("https://www.abritel.fr/123456", "Vrbo listing page"),
    ("https://www.booking.com/hotel/es/casa-sol.html", "Booking.com page"),
])
def test_listing_pages_are_refused_with_where_to_find_the_export(url, words):
    with pytest.raises(LinkUrlError) as err:
        check_link_url(url, AllowList.parse(""), resolver=public_resolver)
    assert err.value.code == "not_ical_url" and words in err.value.message
    assert ".ics" in err.value.message or "Export calendar" in err.value.message
    assert err.value.suggested_url is None


@pytest.mark.parametrize("url, source", [
    ("https://www.airbnb.com/calendar/ical/53897712.ics?s=abc", "airbnb"),
    ("https://www.vrbo.com/icalendar/0f1e2d3c4b5a.ics?nonTentative", "vrbo"),
    ("https://admin.booking.com/hotel/hoteladmin/ical.html?t=1b2c", "booking"),
    ("https://ical.booking.com/v1/export?t=1b2c", "booking"),
])
def test_export_addresses_of_the_same_platforms_pass(url, source):
    assert check_link_url(url, AllowList.parse(""), resolver=public_resolver).source == source
