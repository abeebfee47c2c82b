"""Managers' flows in a real Chromium: range presets, charts and their CSV, resolving from the property
page, and the pages at 390 px wide with no sideways scroll."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from console.extensions import db
from console.models import Overbooking, Reservation, SyncRun
from console.timeutil import utcnow
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, SHOTS, log_in, shot

pytestmark = BROWSER_MARKS
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def filled(make_user, make_property, make_link, make_reservation):
    """A staff member, and a property with stays, sync history and overbookings over a few weeks."""
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Casa de la Alameda con vistas al río Guadalquivir", city="Sevilla",
                         external_ref="REF-0001-SEVILLA-LONG-REFERENCE-CODE")
    link = make_link(prop, source="airbnb", url="https://www.airbnb.com/calendar/ical/123456789012345678"
                     ".ics?s=abcdef0123456789abcdef0123456789abcdef0123456789&locale=es")
    for days in (3, 12, 30):
        make_reservation(prop, "direct", in_days=days, nights=1 + days % 4)
    make_reservation(prop, "external", in_days=5, nights=2, link=link)
    now = utcnow()
    for n in range(6):
        db.session.add(SyncRun(link_id=link.id, started_at=now - timedelta(hours=n), finished_at=now,
                               outcome="error" if n % 2 else "changed", http_status=404 if n % 2 else 200,
                               error_kind="not_found" if n % 2 else None,
                               error_message="https://www.airbnb.com/calendar/ical/123456789012345678.ics "
                               "answered 404 (not found)" if n % 2 else None, duration_ms=120))
    for n, days_ago in enumerate((1, 10, 20, 45, 100)):
        db.session.add(Overbooking(property_id=prop.id, direct_code=f"OA-{n}", external_code=f"EX-{n}",
                                   first_night=now.date(), last_night=now.date(), nights=1 + n % 2,
                                   link_source=("airbnb", "vrbo")[n % 2], counts_against_owner=n % 3 != 1,
                                   attribution="the link had been failing for 2 days when the guest booked",
                                   detected_at=now - timedelta(days=days_ago)))
    db.session.commit()
    return prop


def _chart_rows(page, div_id):
    """(x, counted, not counted) read from the plotly div's own data."""
    return page.evaluate("""id => { const d = document.getElementById(id).data;
        return d[0].x.map((x, i) => [x, d[0].y[i], d[1].y[i]]); }""", div_id)


def test_manager_picks_a_preset_sees_charts_and_downloads_the_matching_csv(live_server, page, filled):
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/overbookings/")
    page.wait_for_selector("#chart-weekly .main-svg")
    shot(page, "managers overbookings default range")
    page.click("[data-preset='4 weeks']")
    page.wait_for_url("**preset=4w**")
    page.wait_for_selector("#chart-weekly .main-svg")
    for chart in ("weekly", "source", "city", "owner", "scores"):
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1
    rows = _chart_rows(page, "chart-weekly")
    assert len(rows) == 4 and sum(c + n for _, c, n in rows) == 3  # 1, 10 and 20 days ago
    assert page.locator("#overbooking-list tbody tr").count() == 3
    shot(page, "managers overbookings 4 weeks")
    with page.expect_download() as info:
        page.click("[data-csv=weekly]")
    body = Path(info.value.path()).read_text(encoding="utf-8-sig")
    downloaded = [[r[0], int(r[1]), int(r[2])] for r in list(csv.reader(io.StringIO(body)))[1:]]
    assert downloaded == rows
    # The range typed in by hand is kept by the list's filters.
    page.fill("#range-from", (utcnow().date() - timedelta(days=50)).isoformat())
    page.click("#chart-range button[type=submit]")
    page.wait_for_selector("#chart-weekly .main-svg")
    assert page.locator("#overbooking-list tbody tr").count() == 4
    page.click("#newest >> text=open")
    page.wait_for_url("**state=open**")
    assert page.locator("#range-from").input_value() == (utcnow().date() - timedelta(days=50)).isoformat()


def test_staff_resolves_an_overbooking_from_the_property_page(live_server, page, filled):
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{filled.id}")
    ob = db.session.execute(db.select(Overbooking).filter_by(direct_code="OA-0")).scalar_one()
    item = page.locator(f"#overbookings [data-overbooking-id='{ob.id}']")
    item.scroll_into_view_if_needed()
    shot(page, "property page overbookings before resolving")
    item.locator("input[name=note]").fill("moved the guest to the sister flat")
    item.locator("button[type=submit]").click()
    page.wait_for_selector(f"#overbookings [data-overbooking-id='{ob.id}'] [data-test=resolution]")
    assert page.url.startswith(f"{live_server}/properties/{filled.id}")
    assert "resolved by staff@example.com" in item.inner_text()
    shot(page, "property page overbooking resolved")
    db.session.expire_all()
    assert (ob.state, ob.resolution_note) == ("resolved", "moved the guest to the sister flat")


def _screenfuls(page, name: str, sections: tuple[str, ...]) -> None:
    """Besides the full page, one phone screen from the top of each section (readable at full size)."""
    for section in sections:
        page.locator(section).scroll_into_view_if_needed()
        page.evaluate("s => document.querySelector(s).scrollIntoView()", section)
        page.screenshot(path=str(SHOTS / f"{name}-{section.strip('#.').replace(' ', '-')}.png"))


def _no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _sticking_out(page) -> list[str]:
    """What reaches past the window's right edge outside a scrolling box (elements and bare text), to
    say what to fix."""
    return page.evaluate("""() => {
        const out = [], w = window.innerWidth + 1;
        const free = n => !(n.parentElement && n.parentElement.closest('.table-responsive'));
        document.querySelectorAll('body *').forEach(e => {
            if (e.getBoundingClientRect().right > w && free(e)) out.push(e.tagName + '.' + e.getAttribute('class'));
        });
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let t = walk.nextNode(); t; t = walk.nextNode()) {
            const r = document.createRange(); r.selectNodeContents(t);
            if (r.getBoundingClientRect().right > w && free(t)) out.push('text: ' + t.textContent.trim().slice(0, 40));
        }
        if (!out.length) {  // nothing visible sticks out: find which block, hidden, ends the scroll
            const blocks = Array.from(document.querySelectorAll('body *'));
            for (const e of blocks) {
                const was = e.style.display; e.style.display = 'none';
                const fits = document.documentElement.scrollWidth <= window.innerWidth;
                e.style.display = was;
                if (fits) out.push('hiding ' + e.tagName + '.' + e.getAttribute('class') + '#' + e.id);
            }
        }
        return out.slice(-8);
    }""")


def _contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two computed CSS colours ("rgb(r, g, b)")."""
    def luminance(color: str) -> float:
        channels = [float(v) / 255 for v in color[color.index("(") + 1:].rstrip(")").split(",")[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_buttons_on_white_are_readable(live_server, page, filled):
    log_in(page, live_server, "staff@example.com")
    for path, selector in (("/kigo/", "#kigo-lookup button"), ("/overbookings/", "[data-preset=quarter]"),
                           ("/overbookings/", "#chart-range button[type=submit]"),
                           (f"/properties/{filled.id}", "#overbookings .resolve-form button")):
        page.goto(f"{live_server}{path}")
        button = page.locator(selector).first
        fg, bg, image = button.evaluate("""b => { const s = getComputedStyle(b);
            const bg = s.backgroundColor === 'rgba(0, 0, 0, 0)' ? 'rgb(255, 255, 255)' : s.backgroundColor;
            return [s.color, bg, s.backgroundImage]; }""")
        assert image == "none", (path, selector, image)  # a gradient would hide the colour measured
        assert _contrast(fg, bg) >= 4.5, (path, selector, fg, bg)
    page.goto(f"{live_server}/kigo/")
    shot(page, "kigo page button")


def test_pages_fit_390_px_without_sideways_scroll(live_server, page, filled):
    assert db.session.query(Reservation).count() == 4
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "staff@example.com")
    for name, path in (("dashboard", "/"), ("property", f"/properties/{filled.id}"),
                       ("overbookings", "/overbookings/"), ("kigo", "/kigo/"),
                       ("notifications", "/notifications/"), ("alert-settings", "/notifications/settings")):
        page.goto(f"{live_server}{path}")
        if name == "overbookings":
            page.wait_for_selector("#chart-scores .main-svg")
        shot(page, f"390px {name}")
        _screenfuls(page, f"390px-{name}", {
            "overbookings": ("#charts", "#chart-city", "#score-explained", "#fell-most", "#newest"),
            "property": ("#links", "#stays", "#overbookings", "#history"),
            "dashboard": ("#health-counts", "#failing-groups")}.get(name, ("body",)))
        assert _no_sideways_scroll(page), (name, _sticking_out(page))
