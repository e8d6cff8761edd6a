"""Reading what a dashboard drew: the plotly figures in `dash.figures` back as plain numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def bars(figure: go.Figure) -> pd.DataFrame:
    """One row per horizontal bar of every bar trace: label, value, low/high whisker ends, flagged."""
    rows = []
    for trace in figure.data:
        if trace.type != "bar":
            continue
        flagged = str(trace.name).startswith("too few")
        err = trace.error_x
        for i, (label, x) in enumerate(zip(trace.y, trace.x)):
            low = high = math.nan
            if err is not None and err.array is not None:
                high, low = x + err.array[i], x - err.arrayminus[i]
            rows.append(
                {"label": label, "value": x, "low": low, "high": high, "flagged": flagged, "text": trace.text[i]}
            )
    return pd.DataFrame(rows)


def points(figure: go.Figure) -> pd.DataFrame:
    """The points of the first scatter trace: period, value, low/high whisker ends, flagged (hollow)."""
    trace = next(t for t in figure.data if t.type == "scatter")
    y = np.array([math.nan if v is None else v for v in trace.y], dtype=float)
    err = trace.error_y
    return pd.DataFrame(
        {
            "period": pd.to_datetime(list(trace.x)),
            "value": y,
            "low": y - np.asarray(err.arrayminus, dtype=float),
            "high": y + np.asarray(err.array, dtype=float),
            "flagged": [s == "circle-open" for s in trace.marker.symbol],
        }
    )


def lines(figure: go.Figure) -> dict[str, pd.DataFrame]:
    """Each scatter trace by name: its x (as Timestamps) and y."""
    return {
        t.name: pd.DataFrame({"period": pd.to_datetime(list(t.x)), "value": np.asarray(t.y, dtype=float)})
        for t in figure.data
        if t.type == "scatter"
    }


def tile_texts(dash) -> dict[str, tuple[str, str]]:
    """The key-number tiles as drawn: key -> (text, note)."""
    return {k.key: (k.text, k.note) for k in dash.numbers}
