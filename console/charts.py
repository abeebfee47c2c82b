"""Pure chart builders for managers: plain data in, plotly figure out (no database, no Flask)."""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import plotly.graph_objects as go

COUNTS_COLOR, NOT_COUNTED_COLOR, SCORE_COLOR = "#c0392b", "#95a5a6", "#2980b9"
COUNTS_NAME, NOT_COUNTED_NAME = "counts against the owner", "does not count"
SCORE_BIN = 10
# The legend sits under the plot, at the foot of the figure: above it, it ran into the title on a
# narrow screen. The bottom margin holds the axis labels and the legend.
_LAYOUT = dict(template="simple_white", barmode="stack", height=340,
               margin=dict(l=40, r=10, t=50, b=110),
               legend=dict(orientation="h", yref="container", yanchor="bottom", y=0.01,
                           xanchor="left", x=0))


@dataclass(frozen=True)
class WeekCount:
    """Overbookings detected in the week starting on Monday `week`."""

    week: date
    counted: int
    not_counted: int


@dataclass(frozen=True)
class GroupCount:
    """Overbookings of one source, city or owner."""

    name: str
    counted: int
    not_counted: int


def plain_label(text: str) -> str:
    """A label plotly shows as the text it is: plotly renders tags such as <a href> and <b> in labels,
    and a city or an owner's name is data, never markup."""
    return html.escape(text, quote=False)


def week_start(day: date | datetime) -> date:
    """The Monday of the day's ISO week."""
    day = day.date() if isinstance(day, datetime) else day
    return day - timedelta(days=day.weekday())


def weekly_counts(day_counts: Iterable[tuple[date | datetime, bool, int]], first: date,
                  last: date) -> list[WeekCount]:
    """(day, counts, n) triples summed into every week from `first` to `last`, empty weeks included."""
    weeks: dict[date, list[int]] = {}
    week = week_start(first)
    while week <= week_start(last):
        weeks[week] = [0, 0]
        week += timedelta(days=7)
    for day, counts, n in day_counts:
        bucket = weeks.get(week_start(day))
        if bucket is not None:
            bucket[0 if counts else 1] += n
    return [WeekCount(w, counted, not_counted) for w, (counted, not_counted) in weeks.items()]


def rank_groups(groups: Iterable[GroupCount], top: int) -> list[GroupCount]:
    """The `top` largest groups, largest first; among equals more counted first, then by name."""
    return sorted(groups, key=lambda g: (-(g.counted + g.not_counted), -g.counted, g.name))[:top]


def score_bins(score_counts: Iterable[tuple[int, int]]) -> list[tuple[str, int]]:
    """(score, how many) pairs counted in bins of ten ("0-9" ... "90-100"; 100 joins the last bin)."""
    counts = [0] * (100 // SCORE_BIN)
    for score, n in score_counts:
        counts[min(max(int(score), 0) // SCORE_BIN, len(counts) - 1)] += n
    labels = [f"{low}-{low + SCORE_BIN - 1}" for low in range(0, 100, SCORE_BIN)]
    labels[-1] = f"{100 - SCORE_BIN}-100"
    return list(zip(labels, counts))


def _stacked(x: Sequence, counted: Sequence[int], not_counted: Sequence[int], *,
             horizontal: bool = False) -> list[go.Bar]:
    def bar(values: Sequence[int], name: str, color: str) -> go.Bar:
        if horizontal:
            return go.Bar(y=list(x), x=list(values), name=name, marker_color=color, orientation="h")
        return go.Bar(x=list(x), y=list(values), name=name, marker_color=color)
    return [bar(counted, COUNTS_NAME, COUNTS_COLOR), bar(not_counted, NOT_COUNTED_NAME, NOT_COUNTED_COLOR)]


def _whole_counts(most: int) -> dict:
    """Axis settings that never show half an overbooking."""
    return dict(rangemode="tozero", tick0=0, dtick=1) if most < 10 else dict(rangemode="tozero")


def overbookings_per_week(weeks: Sequence[WeekCount]) -> go.Figure:
    """Stacked weekly bars: overbookings that count against the owner and those that do not."""
    fig = go.Figure(_stacked([w.week.isoformat() for w in weeks], [w.counted for w in weeks],
                             [w.not_counted for w in weeks]))
    fig.update_layout(title="Overbookings per week (by detection)", xaxis_title="week starting",
                      yaxis_title="overbookings", **_LAYOUT)
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_yaxes(**_whole_counts(max((w.counted + w.not_counted for w in weeks), default=0)))
    return fig


def overbookings_by(dimension: str, groups: Sequence[GroupCount]) -> go.Figure:
    """Horizontal stacked bars per source, city or owner, the first group on top."""
    shown = list(reversed(groups))  # plotly draws the first category at the bottom
    fig = go.Figure(_stacked([plain_label(g.name) for g in shown], [g.counted for g in shown],
                             [g.not_counted for g in shown], horizontal=True))
    fig.update_layout(title=f"Overbookings by {dimension}", xaxis_title="overbookings", **_LAYOUT)
    fig.update_layout(height=max(_LAYOUT["height"], 110 + 24 * len(shown)))
    fig.update_xaxes(**_whole_counts(max((g.counted + g.not_counted for g in shown), default=0)))
    fig.update_yaxes(automargin=True)
    return fig


def score_distribution(bins: Sequence[tuple[str, int]]) -> go.Figure:
    """How many properties score in each band of ten (their newest score), from score_bins."""
    total = sum(n for _, n in bins)
    fig = go.Figure(go.Bar(x=[label for label, _ in bins], y=[n for _, n in bins],
                           marker_color=SCORE_COLOR, name="properties"))
    fig.update_layout(title=f"Reward scores ({total} propert{'y' if total == 1 else 'ies'})",
                      xaxis_title="score", yaxis_title="properties", **_LAYOUT)
    fig.update_xaxes(type="category")
    fig.update_yaxes(**_whole_counts(max((n for _, n in bins), default=0)))
    return fig


def figure_html(fig: go.Figure, div_id: str) -> str:
    """The figure as a <div> and its data in a JSON block, drawn by static/charts.js: no inline
    script, so the page's CSP needs no 'unsafe-inline'. plotly.js itself is served by our app."""
    # "<" escaped: the JSON sits inside a <script> element, whose end no value may fake.
    data = fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f'<div id="{div_id}" class="csc-chart"></div>'
            f'<script type="application/json" data-chart-for="{div_id}">{data}</script>')
