"""Advice in plain words for every error and warning kind."""
import pytest

from jobs.rules.advice import advice_for, warning_advice

ERROR_KINDS = ["dns", "connect", "timeout", "tls", "blocked_address", "too_many_redirects", "not_found",
               "forbidden", "rate_limited", "server_error", "http_error", "not_ical", "invalid_ical",
               "too_large", "kigo_auth", "kigo_not_found", "kigo_not_instant_booking", "kigo_error"]
SOURCES = [None, "airbnb", "vrbo", "booking", "google", "9flats", "holidaylettings", "ical", "kigo"]


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_every_contract_error_kind_has_its_own_advice(kind):
    text = advice_for(kind, None)
    others = {advice_for(other, None) for other in ERROR_KINDS if other != kind}
    assert len(text) > 40
    assert text not in others


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_advice_is_plain_sentences_for_any_source(kind, source):
    text = advice_for(kind, source)
    assert text.endswith(".")
    assert "Traceback" not in text and "None" not in text


def test_google_404_explains_how_to_make_the_calendar_public():
    text = advice_for("not_found", "google", 404)
    assert "Access permissions" in text
    assert "Make available to public" in text
    assert "Public address in iCal format" in text


def test_google_not_ical_says_the_embed_page_was_pasted():
    text = advice_for("not_ical", "google")
    assert "web page" in text and "iCal" in text
    assert text != advice_for("not_ical", None)


def test_airbnb_403_says_the_export_link_was_reset():
    text = advice_for("forbidden", "airbnb", 403)
    assert "reset" in text
    assert "Availability > Connect calendars" in text


@pytest.mark.parametrize("kind, status", [("not_found", 404), ("server_error", 503)])
def test_holidaylettings_dead_feed_advice(kind, status):
    text = advice_for(kind, "holidaylettings", status)
    assert "2024" in text and "dead" in text


def test_holidaylettings_500_is_ordinary_server_trouble():
    assert advice_for("server_error", "holidaylettings", 500) == advice_for("server_error", None, 500)


def test_rate_limited_needs_no_action():
    text = advice_for("rate_limited", "google", 429)
    assert "back off automatically" in text
    assert "no action needed" in text.lower()


def test_unknown_kind_still_gets_advice():
    assert "owner" in advice_for("something_new", None)


@pytest.mark.parametrize("kind", ["suspicious_empty", "ignored_events", "free_busy_only"])
def test_every_warning_kind_has_advice(kind):
    text = warning_advice(kind)
    assert len(text) > 40
    assert text != warning_advice("unknown")
