"""Chart builders are pure: plain data in, plotly figures out (no app, no database)."""
from __future__ import annotations

import json
import re
from datetime import date, datetime

import plotly.graph_objects as go

from console.reports.charts import (
    COUNTS_NAME,
    NOT_COUNTED_NAME,
    GroupCount,
    WeekCount,
    figure_html,
    overbookings_by,
    overbookings_per_week,
    rank_groups,
    score_bins,
    score_distribution,
    week_start,
    weekly_counts,
)


def test_week_start_is_the_monday_of_the_iso_week():
    assert week_start(date(2030, 1, 6)) == date(2029, 12, 31)  # a Sunday
    assert week_start(datetime(2030, 1, 7, 23, 59)) == date(2030, 1, 7)


def test_weekly_counts_fill_empty_weeks_and_split_by_blame():
    day_counts = [(date(2030, 1, 8), True, 1), (date(2030, 1, 9), False, 1),
                  (datetime(2030, 1, 13, 23), True, 2), (date(2030, 1, 22), False, 1),
                  (date(2029, 6, 1), True, 4)]  # outside the range: left out
    assert weekly_counts(day_counts, date(2030, 1, 7), date(2030, 1, 25)) == [
        WeekCount(date(2030, 1, 7), 3, 1), WeekCount(date(2030, 1, 14), 0, 0),
        WeekCount(date(2030, 1, 21), 0, 1)]


def test_per_week_figure_stacks_counted_and_not_counted():
    # Read through plotly's own figure class: it also validates the plain JSON the builders return.
    fig = go.Figure(overbookings_per_week([WeekCount(date(2030, 1, 7), 2, 1), WeekCount(date(2030, 1, 14), 0, 3)]))
    counted, not_counted = fig.data
    assert (counted.name, not_counted.name) == (COUNTS_NAME, NOT_COUNTED_NAME)
    assert counted.x == ("2030-01-07", "2030-01-14") and counted.y == (2, 0)
    assert not_counted.y == (1, 3)
    assert fig.layout.barmode == "stack"
    assert counted.marker.color != not_counted.marker.color


def test_by_group_figure_ranks_the_largest_groups_and_keeps_the_top():
    groups = [GroupCount("airbnb", 5, 1), GroupCount("vrbo", 0, 1), GroupCount("booking", 2, 2),
              GroupCount("google", 1, 0)]
    ranked = rank_groups(groups, top=3)
    assert [g.name for g in ranked] == ["airbnb", "booking", "google"]
    fig = go.Figure(overbookings_by("source", ranked))
    counted, not_counted = fig.data
    assert counted.orientation == "h"
    # bottom to top, the largest on top; among equals, the one with more counted ranks higher
    assert counted.y == ("google", "booking", "airbnb")
    assert counted.x == (1, 2, 5) and not_counted.x == (0, 2, 1)
    assert fig.layout.title.text == "Overbookings by source"


def test_score_bins_cover_zero_to_one_hundred():
    bins = dict(score_bins([(0, 1), (9, 1), (10, 1), (55, 1), (99, 1), (100, 2)]))
    assert list(bins)[0] == "0-9" and list(bins)[-1] == "90-100"
    assert (bins["0-9"], bins["10-19"], bins["50-59"], bins["90-100"]) == (2, 1, 1, 3)
    assert sum(bins.values()) == 7


def test_score_distribution_counts_properties_per_band():
    fig = go.Figure(score_distribution(score_bins([(95, 1), (100, 1), (42, 1)])))
    [bars] = fig.data
    assert dict(zip(bars.x, bars.y, strict=True)) == {**{label: 0 for label, _ in score_bins([])},
                                         "40-49": 1, "90-100": 2}
    assert "3 properties" in fig.layout.title.text


def test_empty_data_still_makes_a_figure():
    assert go.Figure(overbookings_by("city", [])).data[0].y == ()
    assert sum(go.Figure(score_distribution(score_bins([]))).data[0].y) == 0


def test_legend_sits_below_the_plot_clear_of_the_title():
    fig = go.Figure(overbookings_per_week([WeekCount(date(2030, 1, 7), 1, 1)]))
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y < 0.1
    assert fig.layout.legend.yanchor == "bottom"


def test_figure_html_is_a_div_with_its_data_and_no_script_to_run():
    html = figure_html(overbookings_per_week([WeekCount(date(2030, 1, 7), 4, 0)]), "weekly")
    assert 'id="weekly"' in html and "Plotly.newPlot" not in html  # drawn by static/charts.js
    assert "<script src" not in html and not re.search(r"https?://", html)
    block = re.fullmatch(r'<div id="weekly" class="csc-chart"></div>'
                         r'<script type="application/json" data-chart-for="weekly">(.*)</script>', html)
    assert json.loads(block.group(1))["data"][0]["y"] == [4]


def test_no_label_can_end_the_figures_data_block():
    html = figure_html(overbookings_by("city", [GroupCount("</script><script>alert(1)</script>", 1, 0)]), "city")
    assert html.count("</script>") == 1 and "<script>alert" not in html
