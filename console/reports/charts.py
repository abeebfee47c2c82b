"""Pure chart builders for managers: plain data in, a plotly figure out as plain JSON data (no database,
no Flask). Plain dicts, not plotly's figure objects: building and validating those cost ~60 ms per chart."""
from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

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
    return list(zip(labels, counts, strict=True))


def _stacked(x: Sequence, counted: Sequence[int], not_counted: Sequence[int], *,
             horizontal: bool = False) -> list[dict]:
    def bar(values: Sequence[int], name: str, color: str) -> dict:
        if horizontal:
            return {"type": "bar", "y": list(x), "x": list(values), "name": name,
                    "marker": {"color": color}, "orientation": "h"}
        return {"type": "bar", "x": list(x), "y": list(values), "name": name, "marker": {"color": color}}
    return [bar(counted, COUNTS_NAME, COUNTS_COLOR), bar(not_counted, NOT_COUNTED_NAME, NOT_COUNTED_COLOR)]


def _whole_counts(most: int) -> dict:
    """Axis settings that never show half an overbooking."""
    return dict(rangemode="tozero", tick0=0, dtick=1) if most < 10 else dict(rangemode="tozero")


def _layout(title: str, **extra) -> dict:
    return {**_LAYOUT, "title": {"text": title}, **extra}


def overbookings_per_week(weeks: Sequence[WeekCount]) -> dict:
    """Stacked weekly bars: overbookings that count against the owner and those that do not."""
    most = max((w.counted + w.not_counted for w in weeks), default=0)
    return {"data": _stacked([w.week.isoformat() for w in weeks], [w.counted for w in weeks],
                             [w.not_counted for w in weeks]),
            "layout": _layout("Overbookings per week (by detection)",
                              xaxis={"title": {"text": "week starting"}, "type": "category", "tickangle": -45},
                              yaxis={"title": {"text": "overbookings"}, **_whole_counts(most)})}


def overbookings_by(dimension: str, groups: Sequence[GroupCount]) -> dict:
    """Horizontal stacked bars per source, city or owner, the first group on top."""
    shown = list(reversed(groups))  # plotly draws the first category at the bottom
    most = max((g.counted + g.not_counted for g in shown), default=0)
    return {"data": _stacked([plain_label(g.name) for g in shown], [g.counted for g in shown],
                             [g.not_counted for g in shown], horizontal=True),
            "layout": _layout(f"Overbookings by {dimension}",
                              height=max(_LAYOUT["height"], 110 + 24 * len(shown)),
                              xaxis={"title": {"text": "overbookings"}, **_whole_counts(most)},
                              yaxis={"automargin": True})}


def score_distribution(bins: Sequence[tuple[str, int]]) -> dict:
    """How many properties score in each band of ten (their newest score), from score_bins."""
    total = sum(n for _, n in bins)
    return {"data": [{"type": "bar", "x": [label for label, _ in bins], "y": [n for _, n in bins],
                      "marker": {"color": SCORE_COLOR}, "name": "properties"}],
            "layout": _layout(f"Reward scores ({total} propert{'y' if total == 1 else 'ies'})",
                              xaxis={"title": {"text": "score"}, "type": "category"},
                              yaxis={"title": {"text": "properties"},
                                     **_whole_counts(max((n for _, n in bins), default=0))})}


@lru_cache(maxsize=4)
def _template(name: str) -> dict:
    """A plotly template as the data plotly.js draws with (its name means nothing to plotly.js)."""
    import plotly.io
    return plotly.io.templates[name].to_plotly_json()


def figure_html(fig: dict, div_id: str) -> str:
    """The figure as a <div> and its data in a JSON block, drawn by static/charts.js: no inline
    script, so the page's CSP needs no 'unsafe-inline'. plotly.js itself is served by our app."""
    layout = fig["layout"]
    if isinstance(layout.get("template"), str):
        layout = {**layout, "template": _template(layout["template"])}
    # "<" escaped: the JSON sits inside a <script> element, whose end no value may fake.
    data = json.dumps({"data": fig["data"], "layout": layout}, separators=(",", ":")).replace(
        "<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f'<div id="{div_id}" class="csc-chart"></div>'
            f'<script type="application/json" data-chart-for="{div_id}">{data}</script>')
