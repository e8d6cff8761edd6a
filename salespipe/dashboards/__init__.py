"""Dashboards for managers: funnel and win rate, ipywidgets + plotly, read-only, from `salespipe.metrics`.

    from salespipe.dashboards import FunnelDashboard, WinRateDashboard
    FunnelDashboard().widget         # in a notebook or voila: SALESPIPE_DB, else data/salespipe.duckdb

Each takes a `Database` or a path and opens it read-only; `filters`, `buttons`, `figures` and
`widget` make them scriptable (see `_base.Dashboard`).
"""

from ._base import ALL, AutoRefresh, Dashboard, open_database, wait_for_visitor
from .funnel import FunnelDashboard
from .stats import MIN_DEALS, too_small, wilson_interval
from .win_rate import WinRateDashboard

__all__ = [
    "ALL",
    "MIN_DEALS",
    "AutoRefresh",
    "Dashboard",
    "FunnelDashboard",
    "WinRateDashboard",
    "open_database",
    "too_small",
    "wait_for_visitor",
    "wilson_interval",
]
