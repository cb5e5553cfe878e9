"""Geometry for the dashboard's server-drawn SVG charts: pure functions from numbers to rectangles
and axis ticks, with no Flask or database in sight, so they are tested as plain functions. The
templates in templates/dashboard/_charts.html turn the geometry into SVG elements."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Datum:
    """One bar: `key` names its colour class, `label` is shown beside it, `value_label` at its end."""

    key: str
    label: str
    value: float
    value_label: str | None = None

    @property
    def shown_value(self) -> str:
        return self.value_label if self.value_label is not None else _number(self.value)


@dataclass(frozen=True)
class HBar:
    key: str
    label: str
    value: float
    value_label: str
    x: float
    y: float
    width: float
    height: float
    text_y: float  # baseline of the label and value, vertically centred on the bar
    value_x: float  # where the value text starts, just after the bar's end


@dataclass(frozen=True)
class HBarChart:
    width: float
    height: float
    label_x: float  # labels end here (text-anchor: end)
    track_x: float  # bars start here
    track_width: float  # the full length a bar of the largest value reaches
    bars: tuple[HBar, ...]

    @property
    def is_empty(self) -> bool:
        return all(bar.value <= 0 for bar in self.bars)


def horizontal_bars(
    data: Sequence[Datum], *, width: float = 480, label_width: float = 160, value_width: float = 80,
    bar_height: float = 22, gap: float = 12, padding: float = 4,
) -> HBarChart:
    """One row per datum: label on the left, a bar whose length is proportional to the value
    (the largest value fills the track), and the value printed after the bar."""
    track_x = label_width
    track_width = max(width - label_width - value_width, 1)
    largest = max((d.value for d in data), default=0)
    bars = []
    for index, datum in enumerate(data):
        y = padding + index * (bar_height + gap)
        length = track_width * datum.value / largest if largest > 0 and datum.value > 0 else 0.0
        if 0 < length < 2:
            length = 2.0  # a value above zero stays visible
        bars.append(HBar(
            key=datum.key, label=datum.label, value=datum.value, value_label=datum.shown_value,
            x=track_x, y=y, width=round(length, 2), height=bar_height, text_y=round(y + bar_height / 2 + 4.5, 2),
            value_x=round(track_x + length + 8, 2),
        ))
    height = padding * 2 + len(data) * bar_height + max(len(data) - 1, 0) * gap
    return HBarChart(width=width, height=height, label_x=label_width - 10, track_x=track_x,
                     track_width=track_width, bars=tuple(bars))


def nice_ticks(maximum: float, count: int = 4, *, integer: bool = True) -> list[float]:
    """Axis ticks from 0 to at least `maximum` in round steps (1, 2 or 5 times a power of ten),
    about `count` of them. An empty axis (maximum 0) runs from 0 to 1."""
    if maximum <= 0:
        return [0, 1]
    raw_step = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    if integer:
        step = max(1, round(step))
    top = math.ceil(maximum / step - 1e-9) * step
    ticks = []
    value = 0.0
    while value <= top + 1e-9:
        ticks.append(int(value) if integer else round(value, 10))
        value += step
    return ticks


@dataclass(frozen=True)
class Segment:
    series: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Column:
    label: str
    total: float
    x: float
    width: float
    centre: float
    segments: tuple[Segment, ...]  # bottom to top, zero values left out
    total_y: float  # baseline of the total printed above the column


@dataclass(frozen=True)
class GridLine:
    value: float
    y: float


@dataclass(frozen=True)
class ColumnChart:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    columns: tuple[Column, ...]
    grid: tuple[GridLine, ...]
    series: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return all(column.total <= 0 for column in self.columns)


def stacked_columns(
    columns: Sequence[tuple[str, Sequence[float]]], series: Sequence[str], *, width: float = 1000,
    height: float = 280, left: float = 44, right: float = 12, top: float = 22, bottom: float = 30,
    gap_ratio: float = 0.3,
) -> ColumnChart:
    """Vertical columns, each a stack of one segment per series (in `series` order, bottom up).
    `columns` is [(label, [value per series]), ...]. The y axis runs from 0 to a round number."""
    plot_left, plot_right, plot_top, plot_bottom = left, width - right, top, height - bottom
    plot_height = plot_bottom - plot_top
    totals = [sum(values) for _, values in columns]
    ticks = nice_ticks(max(totals, default=0))
    scale = plot_height / ticks[-1]
    slot = (plot_right - plot_left) / max(len(columns), 1)
    column_width = slot * (1 - gap_ratio)
    built = []
    for index, ((label, values), total) in enumerate(zip(columns, totals, strict=True)):
        if len(values) != len(series):
            raise ValueError(f"column {label!r} has {len(values)} values for {len(series)} series")
        x = plot_left + index * slot + (slot - column_width) / 2
        base = plot_bottom
        segments = []
        for name, value in zip(series, values, strict=True):
            if value <= 0:
                continue
            segment_height = value * scale
            base -= segment_height
            segments.append(Segment(series=name, value=value, x=round(x, 2), y=round(base, 2),
                                    width=round(column_width, 2), height=round(segment_height, 2)))
        built.append(Column(label=label, total=total, x=round(x, 2), width=round(column_width, 2),
                            centre=round(x + column_width / 2, 2), segments=tuple(segments),
                            total_y=round(base - 6, 2)))
    grid = tuple(GridLine(value=tick, y=round(plot_bottom - tick * scale, 2)) for tick in ticks)
    return ColumnChart(width=width, height=height, plot_left=plot_left, plot_right=plot_right, plot_top=plot_top,
                       plot_bottom=plot_bottom, columns=tuple(built), grid=grid, series=tuple(series))


def duration_label(seconds: float | None) -> str:
    """A span of time the way people say it: 45 s, 12 min, 5 h 20 min, 3 d 4 h."""
    if seconds is None:
        return "–"
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
