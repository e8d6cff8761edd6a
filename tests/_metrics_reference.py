"""An independent pandas implementation of docs/metrics.md, to check salespipe.metrics against.

It reads only base tables (leads, opportunities, quotes, quote_lines, orders, invoices, owners,
accounts, events) with `db.sql`, never the analyst views, and computes every metric frame with
plain pandas, one group at a time: slow and obvious on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

import salespipe as sp

STAGES = ["lead", "qualified", "quoted", "won", "invoiced", "paid"]
STAGE_AT = ["created_at", "qualified_at", "quoted_at", "won_at", "invoiced_at", "paid_at"]
PHASES = ["qualify", "develop", "propose"]
FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q"}
DEFAULT_PROBABILITY = 10


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _listed(value: object) -> list | None:
    if value is None:
        return None
    return list(value) if isinstance(value, list | tuple | set) else [value]


class Reference:
    """The raw tables of one database, and each metric recomputed from them."""

    def __init__(self, db: sp.Database) -> None:
        sql = db.sql
        owners = sql("SELECT owner, region FROM owners")
        accounts = sql("SELECT account_id, name, name_key FROM accounts")
        leads = sql("SELECT * FROM leads")
        opps = sql("SELECT * FROM opportunities")
        quotes = sql("SELECT quote_id, opportunity_id, created_at, state FROM quotes")
        lines = sql("SELECT quote_id, sku FROM quote_lines")
        orders = sql("SELECT order_id, opportunity_id FROM orders")
        invoices = sql("SELECT invoice_id, opportunity_id, created_at, closed_at, state FROM invoices")
        self.events = sql("SELECT * FROM events")
        self.field_changes = sql("SELECT * FROM field_changes WHERE entity = 'opportunity'")
        self.region = owners.set_index("owner")["region"]
        self.accounts = accounts
        self.document_opportunity = {
            "quote": quotes.set_index("quote_id")["opportunity_id"],
            "order": orders.set_index("order_id")["opportunity_id"],
            "invoice": invoices.set_index("invoice_id")["opportunity_id"],
        }
        self.products = (
            lines.merge(quotes[["quote_id", "opportunity_id"]], on="quote_id")[["opportunity_id", "sku"]]
            .drop_duplicates()
            .reset_index(drop=True)
        )
        region = owners.set_index("owner")["region"]
        account_name = accounts.set_index("account_id")["name"]
        self.quotes = quotes

        first_quote = quotes.groupby("opportunity_id")["created_at"].min()
        first_invoice = invoices.groupby("opportunity_id")["created_at"].min()
        first_paid = invoices[invoices["state"] == "paid"].groupby("opportunity_id")["closed_at"].min()

        o = opps.copy()
        o["region"] = o["owner"].map(region)
        o["account"] = o["account_id"].map(account_name)
        o["phase"] = self._phase(o["opportunity_id"], quotes.set_index("quote_id")["state"])
        closed = o["state"].isin(["won", "lost"])
        o["cycle_days"] = ((o["closed_at"] - o["created_at"]).dt.total_seconds() / 86400).where(closed)
        o["outcome"] = o["state"].where(closed)
        o["quoted_at"] = o["opportunity_id"].map(first_quote)
        o["won_at"] = o["closed_at"].where(o["state"] == "won")
        o["lost_at"] = o["closed_at"].where(o["state"] == "lost")
        o["invoiced_at"] = o["opportunity_id"].map(first_invoice)
        o["paid_at"] = o["opportunity_id"].map(first_paid)
        self.opps = o

        lead = leads.copy()
        lead["region"] = lead["owner"].map(region)
        lead["account"] = lead["account_id"].map(account_name)
        lead["qualified_at"] = lead["closed_at"].where(lead["state"] == "qualified")
        opp_state = o.set_index("opportunity_id")["state"]
        opp_closed = o.set_index("opportunity_id")["closed_at"]
        lead["quoted_at"] = lead["opportunity_id"].map(first_quote)
        lead["disqualified_at"] = lead["closed_at"].where(lead["state"] == "disqualified")
        lead["won_at"] = lead["opportunity_id"].map(opp_closed.where(opp_state == "won"))
        lead["lost_at"] = lead["opportunity_id"].map(opp_closed.where(opp_state == "lost"))
        lead["invoiced_at"] = lead["opportunity_id"].map(first_invoice)
        lead["paid_at"] = lead["opportunity_id"].map(first_paid)
        self.leads = lead

    def _phase(self, opportunity_ids: pd.Series, quote_state: pd.Series) -> pd.Series:
        """qualify / develop / propose from the states of each opportunity's quotes."""
        q = self.quotes[["quote_id", "opportunity_id"]].copy()
        q["state"] = q["quote_id"].map(quote_state)
        active = set(q.loc[q["state"] == "active", "opportunity_id"])
        draft = set(q.loc[q["state"] == "draft", "opportunity_id"])
        return opportunity_ids.map(lambda i: "propose" if i in active else "develop" if i in draft else "qualify")

    # -- options ----------------------------------------------------------------------------------

    def scoped(self, frame, anchor, *, by=None, period=None, start=None, end=None, **filters):
        """The records kept by the filters and window, with the group columns added; and the keys."""
        f = frame.copy()
        by = [by] if isinstance(by, str) else list(by or [])
        products = self.products
        for dim, value in filters.items():
            values = _listed(value)
            if values is None:
                continue
            if dim == "product":
                products = products[products["sku"].isin(values)]
                f = f[f["opportunity_id"].isin(products["opportunity_id"])]
            elif dim == "account":
                ids = {v for v in values if isinstance(v, int)}
                keys = set(self.accounts.loc[self.accounts["name"].isin(values), "name_key"])
                ids |= set(self.accounts.loc[self.accounts["name_key"].isin(keys), "account_id"])
                f = f[f["account_id"].isin(ids)]
            else:
                f = f[f[dim].isin(values)]
        if "product" in by:
            f = f.merge(products.rename(columns={"sku": "product"}), on="opportunity_id", how="left")
        if start is not None:
            f = f[f[anchor] >= pd.Timestamp(start)]
        if end is not None:
            f = f[f[anchor] < pd.Timestamp(end)]
        if period:
            f["period"] = f[anchor].dt.to_period(FREQ[period]).dt.start_time.astype("datetime64[us]")
        return f, (["period"] if period else []) + by

    @staticmethod
    def per_group(f: pd.DataFrame, keys: list[str], compute: Callable[[pd.DataFrame], list[dict]], order: list[str]):
        """compute(records of a group) -> rows; the rows of every group, keys first, sorted."""
        rows = []
        if not keys:
            rows = compute(f)
        else:
            for key, sub in f.groupby(keys, dropna=False, sort=False):
                key = key if isinstance(key, tuple) else (key,)
                rows += [{**dict(zip(keys, key, strict=True)), **row} for row in compute(sub)]
        out = pd.DataFrame(rows)
        if out.empty:
            return out
        return out.sort_values(keys + order, na_position="last", kind="mergesort").reset_index(drop=True)

    # -- metrics ----------------------------------------------------------------------------------

    def funnel(self, view="cohort", **opts):
        def conversions(counts: list[int]) -> list[dict]:
            return [
                {
                    "stage": stage,
                    "stage_order": i + 1,
                    "count": counts[i],
                    "conversion_from_previous": _ratio(counts[i], counts[max(i - 1, 0)]),
                    "conversion_from_first": _ratio(counts[i], counts[0]),
                }
                for i, stage in enumerate(STAGES)
            ]

        if view == "cohort":
            f, keys = self.scoped(self.leads, "created_at", **opts)
            return self.per_group(
                f, keys, lambda g: conversions([int(g[c].notna().sum()) for c in STAGE_AT]), ["stage_order"]
            )
        dims = ["lead_id", "opportunity_id", "account_id", "owner", "source", "region", "account"]
        long = pd.concat([self.leads[dims].assign(stage_order=i + 1, at=self.leads[c]) for i, c in enumerate(STAGE_AT)])
        long = long[long["at"].notna()]
        f, keys = self.scoped(long, "at", **opts)
        counts = lambda g: [int((g["stage_order"] == i + 1).sum()) for i in range(len(STAGES))]  # noqa: E731
        return self.per_group(f, keys, lambda g: conversions(counts(g)), ["stage_order"])

    def win_rate(self, **opts):
        f, keys = self.scoped(self.opps, "created_at", **opts)

        def compute(g):
            won, lost, open_ = (int((g["state"] == s).sum()) for s in ("won", "lost", "open"))
            return [
                {
                    "won": won,
                    "lost": lost,
                    "open": open_,
                    "win_rate": _ratio(won, won + lost),
                    "won_value": float(g.loc[g["state"] == "won", "actual_value"].sum()),
                    "win_rate_all": _ratio(won, won + lost + open_),
                }
            ]

        return self.per_group(f, keys, compute, [])

    def pipeline(self, as_of=None, **opts):
        o = self.opps
        if as_of is None:
            open_ = o[o["state"] == "open"]
        else:
            ev = self.events[self.events["at"] <= pd.Timestamp(as_of)].sort_values(["at", "event_id"])
            last = ev.groupby(["entity", "entity_id"])["to_state"].last()
            opp_then = last.loc["opportunity"] if "opportunity" in last.index.get_level_values(0) else pd.Series()
            open_ids = set(opp_then[opp_then == "open"].index)
            open_ = o[o["opportunity_id"].isin(open_ids)].copy()
            quote_then = last.loc["quote"] if "quote" in last.index.get_level_values(0) else pd.Series(dtype=object)
            open_["phase"] = self._phase(open_["opportunity_id"], quote_then)
            # the tracked fields as they stood at as_of: the last change by then, else the value the
            # first change after it replaced, else today's (a closed-since deal without a probability
            # change: the default)
            open_["probability"] = open_["probability"].where(open_["state"] == "open", DEFAULT_PROBABILITY)
            changes = self.field_changes.sort_values(["at", "change_id"])
            for field, cast in (("probability", int), ("estimated_value", float), ("owner", str)):
                mine = changes[changes["field"] == field]
                before = mine[mine["at"] <= pd.Timestamp(as_of)].groupby("entity_id")["new_value"].last(skipna=False)
                after = mine[mine["at"] > pd.Timestamp(as_of)].groupby("entity_id")["old_value"].first(skipna=False)
                then = pd.concat([after[~after.index.isin(before.index)], before])
                for opp, value in then.items():
                    rows = open_["opportunity_id"] == opp
                    open_.loc[rows, field] = None if value is None or value != value else cast(value)
            open_["region"] = open_["owner"].map(self.region)
        f, keys = self.scoped(open_, None, **opts)

        def compute(g):
            rows = []
            for i, phase in enumerate(PHASES, 1):
                p = g[g["phase"] == phase]
                rows.append(
                    {
                        "phase": phase,
                        "phase_order": i,
                        "count": len(p),
                        "value": float(p["estimated_value"].sum()),
                        "weighted_value": float((p["estimated_value"] * p["probability"] / 100).sum()),
                    }
                )
            return rows

        return self.per_group(f, keys, compute, ["phase_order"])

    def avg_deal_size(self, **opts):
        won = self.opps[self.opps["state"] == "won"]
        f, keys = self.scoped(won, "closed_at", **opts)

        def compute(g):
            return [
                {"won": len(g), "won_value": float(g["actual_value"].sum()), "avg_deal_size": g["actual_value"].mean()}
            ]

        return self.per_group(f, keys, compute, [])

    def cycle_time(self, **opts):
        closed = self.opps[self.opps["state"].isin(["won", "lost"])]
        f, keys = self.scoped(closed, "closed_at", **opts)

        def compute(g):
            rows = []
            for i, outcome in enumerate(["won", "lost", "all"]):
                days = g["cycle_days"] if outcome == "all" else g.loc[g["state"] == outcome, "cycle_days"]
                rows.append(
                    {
                        "outcome": outcome,
                        "_order": i,
                        "count": len(days),
                        "mean_days": days.mean(),
                        "median_days": days.median(),
                        "p90_days": days.quantile(0.9) if len(days) else math.nan,
                    }
                )
            return rows

        out = self.per_group(f, keys, compute, ["_order"])
        return out.drop(columns="_order") if len(out) else out

    def sales_velocity(self, **opts):
        created, keys = self.scoped(self.opps, "created_at", **opts)
        closed_opps = self.opps[self.opps["state"].isin(["won", "lost"])]
        closed, _ = self.scoped(closed_opps, "closed_at", **opts)
        made = self.per_group(created, keys, lambda g: [{"opportunities": len(g)}], [])

        def outcome(g):
            won = g[g["state"] == "won"]
            return [
                {
                    "avg_deal_size": won["actual_value"].mean(),
                    "win_rate": _ratio(len(won), len(g)),
                    "cycle_days": won["cycle_days"].mean(),
                }
            ]

        done = self.per_group(closed, keys, outcome, [])
        if keys:
            out = made.merge(done, on=keys, how="outer") if len(made) and len(done) else pd.concat([made, done])
        else:
            out = pd.concat([made, done], axis=1)
        for col in ("opportunities", "avg_deal_size", "win_rate", "cycle_days"):
            if col not in out:
                out[col] = np.nan
        out["opportunities"] = out["opportunities"].fillna(0).astype("int64")
        cycle = out["cycle_days"].where(out["cycle_days"] != 0)
        out["velocity"] = out["opportunities"] * out["avg_deal_size"] * out["win_rate"] / cycle
        cols = keys + ["opportunities", "avg_deal_size", "win_rate", "cycle_days", "velocity"]
        return (
            out[cols].sort_values(keys, na_position="last", kind="mergesort").reset_index(drop=True)
            if keys
            else out[cols]
        )

    def time_in_stage(self, entity="opportunity", **opts):
        ev = self.events[self.events["entity"] == entity].sort_values(["entity_id", "at", "event_id"])
        prev = ev.groupby("entity_id")[["to_state", "to_status"]].shift(1)
        changed = (
            (prev["to_state"] != ev["to_state"]) | (prev["to_status"] != ev["to_status"]) | prev["to_state"].isna()
        )
        stays = ev[changed].copy()
        stays["left_at"] = stays.groupby("entity_id")["at"].shift(-1)
        stays = stays[stays["left_at"].notna()]
        stays = stays.rename(columns={"to_state": "state", "to_status": "status", "at": "entered_at"})
        stays["days"] = (stays["left_at"] - stays["entered_at"]).dt.total_seconds() / 86400
        dims = ["opportunity_id", "account_id", "account", "owner", "region", "source"]
        if entity == "lead":
            stays = stays.merge(self.leads[["lead_id", *dims]], left_on="entity_id", right_on="lead_id")
        else:
            opp = (
                stays["entity_id"]
                if entity == "opportunity"
                else stays["entity_id"].map(self.document_opportunity[entity])
            )
            stays = stays.assign(opportunity_id=opp.to_numpy()).merge(self.opps[dims], on="opportunity_id")
        f, keys = self.scoped(stays, "entered_at", **opts)
        known = [(a, b) for a, statuses in sp.machine.STATES[entity].items() for b in statuses]
        f["_order"] = [known.index((a, b)) for a, b in zip(f["state"], f["status"], strict=True)]

        def compute(g):
            return [
                {
                    "_order": g["_order"].iloc[0],
                    "count": len(g),
                    "mean_days": g["days"].mean(),
                    "median_days": g["days"].median(),
                    "p90_days": g["days"].quantile(0.9),
                }
            ]

        out = self.per_group(f, keys + ["state", "status"], compute, ["_order"])
        if out.empty:
            return out
        out = out.sort_values(keys + ["_order"], na_position="last", kind="mergesort").reset_index(drop=True)
        return out.drop(columns="_order")
