"""`salespipe import --detect FILE`: which preset fits a file, and why.

Each preset's [detect] section names the columns that tell its export apart (StageName, IsWon for
Salesforce; Record ID, Deal Stage for HubSpot; logical names for Dynamics), the Dynamics entity of
a workbook's hiddenSheet token, and the Salesforce key prefix of its ids (006 for opportunities).
A preset scores the share of those columns the file has, plus the token and the id prefix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ValidationError
from . import mapping as maps
from .read import Source, read

MIN_SCORE = 0.5


@dataclass(frozen=True)
class Detection:
    """The best preset for a file (None when nothing fits), its kind, a score 0-1 and the reasons."""

    file: str
    preset: str | None
    kind: str | None
    score: float
    reasons: list[str]
    read_as: str
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    def __str__(self) -> str:
        name = os.path.basename(self.file)
        if self.preset is None:
            lines = [f"{name}: no preset fits ({self.read_as}); write a mapping of your own (README, Imports)"]
        else:
            lines = [
                f"{name}: {self.preset} ({self.kind}), score {self.score:.2f} ({self.read_as})",
                f"  import it with: salespipe import {self.kind} {self.file} --mapping {self.preset}",
            ]
        lines += [f"  - {r}" for r in self.reasons]
        if self.alternatives:
            lines.append("  also considered: " + ", ".join(f"{p} {s:.2f}" for p, s in self.alternatives))
        return "\n".join(lines)


def _score(source: Source, m: maps.Mapping) -> tuple[float, list[str]]:
    wanted = [[c] if isinstance(c, str) else list(c) for c in m.detect.get("columns", [])]
    present = [next((a for a in alts if source.find(a) is not None), None) for alts in wanted]
    missing = [alts[0] for alts, p in zip(wanted, present, strict=True) if p is None]
    present = [p for p in present if p is not None]
    reasons = []
    score = len(present) / len(wanted) if wanted else 0.0
    if present:
        reasons.append(f"has {len(present)} of its {len(wanted)} telling columns: {', '.join(present)}")
    if missing and present:
        reasons.append(f"lacks {', '.join(missing[:6])}")
    entity = m.detect.get("entity")
    if entity and source.entity:
        if source.entity == entity:
            score += 0.5
            reasons.append(f"the workbook's hiddenSheet token names the Dynamics entity {entity!r}")
        else:
            score -= 0.5
    prefix = m.detect.get("id_prefix")
    if prefix and present:
        column = source.find(str(m.detect.get("id_column", "Id")))
        if column is not None:
            values = (
                [v for v in source.columns[column][:50] if v]
                if isinstance(source.columns[column], list)
                else [v for v in source.columns[column].slice(0, 50).to_pylist() if v]
            )
            share = sum(str(v).startswith(prefix) for v in values) / len(values) if values else 0
            if share >= 0.9:
                score += 0.25
                reasons.append(f"its ids start with {prefix}, Salesforce's key prefix for {m.kind}")
            elif values:
                score -= 0.25
    return score, reasons


def detect(path: str | os.PathLike[str]) -> Detection:
    """Score every preset against the file's header (and token, and ids); the best one, with reasons."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise ValidationError(f"path must be a file path, got {type(path).__name__}", field="path", value=path)
    source = read(path)
    from .load import _read_as

    scored = []
    for name in maps.preset_names():
        system, kind = name.split("_", 1)
        m = maps.load(name, kind)
        score, reasons = _score(source, m)
        scored.append((score, name, kind, reasons))
    scored.sort(key=lambda s: -s[0])
    best = scored[0] if scored else None
    read_as = _read_as(source)
    others = [(n, round(s, 2)) for s, n, _, _ in scored[1:4] if s > 0]
    if best is None or best[0] < MIN_SCORE:
        header = ", ".join(source.header[:12])
        return Detection(str(path), None, None, best[0] if best else 0.0, [f"its columns: {header}"], read_as, others)
    return Detection(str(path), best[1], best[2], round(min(best[0], 1.0), 2), best[3], read_as, others)
