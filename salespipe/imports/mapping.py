"""Mappings: which source column holds each salespipe field, and which source value is which state.

A mapping is a TOML file (or a preset shipped in salespipe/presets/mappings/) such as

    system = "hubspot"              # the CRM the ids belong to: re-imports update by (system, id)
    [columns]                       # salespipe field = "source column", or a list: the first non-empty wins
    external_id = "Record ID"
    stage = "Deal Stage"
    closed_at = ["Close Date", "Last Activity Date"]
    [stages]                        # source value = open | won | lost (matched after trimming whitespace)
    "Closed Won" = "won"
    "*" = "open"                    # anything else
    [options]                       # encoding, delimiter, decimal, dates, timezone, sheet, probability ...

Column names match ignoring case and repeated spaces; a Dynamics workbook's columns also match by
their logical names (statecode, estimatedvalue ...). A preset lists the columns of several export
variants, so the columns it names may be absent; a mapping file of your own must name columns that
exist.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import machine
from ..errors import ValidationError
from .read import Source

KINDS = ("leads", "accounts", "contacts", "opportunities", "opportunity_history")
ENTITY = {
    "leads": "lead",
    "accounts": "account",
    "contacts": "contact",
    "opportunities": "opportunity",
    "opportunity_history": "opportunity",
}

# field -> how its values are read (salespipe.imports.values)
TYPES = {
    "external_id": "id",
    "name": "text",
    "topic": "text",
    "first_name": "text",
    "last_name": "text",
    "email": "email",
    "phone": "text",
    "job_title": "text",
    "company": "text",
    "source": "text",
    "owner": "text",
    "estimated_value": "money",
    "actual_value": "money",
    "probability": "probability",
    "created_at": "date",
    "closed_at": "date",
    "estimated_close_date": "date",
    "at": "date",
    "stage": "text",
    "status": "text",
    "is_closed": "flag",
    "is_won": "flag",
    "converted": "flag",
    "account": "text",
    "contact": "text",
    "account_external_id": "id",
    "contact_external_id": "id",
    "opportunity_external_id": "id",
    "lost_reason": "text",
    "competitor": "text",
}
PERSON = ("first_name", "last_name", "email", "phone", "job_title")
FIELDS = {
    "leads": (
        "external_id",
        *PERSON,
        "company",
        "topic",
        "source",
        "owner",
        "estimated_value",
        "created_at",
        "stage",
        "status",
        "closed_at",
        "converted",
        "account_external_id",
        "contact_external_id",
        "opportunity_external_id",
        "lost_reason",
    ),
    "accounts": ("external_id", "name", "created_at"),
    "contacts": ("external_id", *PERSON, "account", "account_external_id", "created_at"),
    "opportunities": (
        "external_id",
        "topic",
        "account",
        "account_external_id",
        "contact",
        "contact_external_id",
        "owner",
        "source",
        "estimated_value",
        "probability",
        "actual_value",
        "created_at",
        "closed_at",
        "stage",
        "status",
        "is_closed",
        "is_won",
        "lost_reason",
        "competitor",
    ),
    # a history row's amount, probability and close date become the deal's field history
    "opportunity_history": ("external_id", "stage", "at", "estimated_value", "probability", "estimated_close_date"),
}
ALIASES = {"opportunities": {"name": "topic"}, "leads": {"name": "topic", "subject": "topic"}}
REQUIRED = {
    "leads": ("external_id", "stage"),
    "accounts": ("external_id",),
    "contacts": ("external_id",),
    "opportunities": ("external_id", "stage"),
    "opportunity_history": ("external_id", "stage", "at"),
}
# what a [stages] value may name, per kind: a state, or state:status
TARGETS = {
    "leads": {"open", "qualified", "disqualified"}
    | {f"{s}:{st}" for s, sts in machine.STATES["lead"].items() for st in sts},
    "opportunities": {"open", "won", "lost"}
    | {f"{s}:{st}" for s, sts in machine.STATES["opportunity"].items() for st in sts},
}
TARGETS["opportunity_history"] = TARGETS["opportunities"]
OPTIONS = {
    "encoding": str,
    "delimiter": str,
    "decimal": str,
    "dates": str,
    "timezone": str,
    "sheet": str,
    "probability": str,
    "null_ids": list,
    "ids": str,
    "closed_before_created": str,
}
OPTION_VALUES = {
    "decimal": (".", ","),
    "dates": ("mdy", "dmy"),
    "probability": ("percent", "fraction"),
    "ids": ("salesforce",),
    "closed_before_created": ("reject", "move_created"),
}
PRESETS = resources.files("salespipe") / "presets" / "mappings"


@dataclass
class Mapping:
    """A mapping, checked: columns per field (in order of preference), state tables and options."""

    name: str
    system: str
    kind: str
    columns: dict[str, list[str]]
    stages: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)
    preset: bool = False
    detect: dict[str, object] = field(default_factory=dict)
    description: str = ""

    def resolve(self, source: Source) -> dict[str, list[str]]:
        """The file's columns for each field, in order; refuses missing required ones (and, for a
        mapping of your own, any column that is not in the file)."""
        found: dict[str, list[str]] = {}
        absent: list[tuple[str, str]] = []
        for name, wanted in self.columns.items():
            present = [h for h in (source.find(c) for c in wanted) if h is not None]
            if present:
                found[name] = list(dict.fromkeys(present))
            elif not self.preset or name in REQUIRED[self.kind]:
                absent.append((name, " or ".join(repr(c) for c in wanted)))
        missing = [f for f in REQUIRED[self.kind] if f not in found and f not in dict(absent)]
        if missing or absent:
            parts = [f"{f}: no column {cols}" for f, cols in absent]
            parts += [f"{f}: the mapping names no column for it" for f in missing]
            shown = ", ".join(repr(h) for h in source.header[:40]) + (" ..." if len(source.header) > 40 else "")
            first = absent[0][0] if absent else missing[0]
            raise ValidationError(
                f"{os.path.basename(source.path)} does not have the columns the mapping {self.name!r} needs for "
                f"{self.kind} ({'; '.join(parts)}); the file's columns: {shown}",
                field=first,
            )
        return found


def preset_names() -> list[str]:
    """The presets shipped with salespipe, as `system_kind` names."""
    return sorted(p.name.removesuffix(".toml") for p in PRESETS.iterdir() if p.name.endswith(".toml"))


def load(mapping: object, kind: str) -> Mapping:
    """A mapping from a preset name (`salesforce`, `hubspot_deals` ...), a TOML file, or a dict."""
    if isinstance(mapping, Mapping):
        if mapping.kind != kind:
            raise ValidationError(f"the mapping is for {mapping.kind}, not {kind}", field="mapping")
        return mapping
    if isinstance(mapping, dict):
        return parse(mapping, kind, name="(dict)", preset=False)
    if not isinstance(mapping, str | os.PathLike) or isinstance(mapping, bytes):
        raise ValidationError(
            f"mapping must be a preset name, a TOML file or a dict, got {type(mapping).__name__}", field="mapping"
        )
    text = os.fspath(mapping)
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise ValidationError(f"mapping {text!r} names no preset or file", field="mapping", value=text)
    names = preset_names()
    for candidate in (text, f"{text}_{kind}"):
        if candidate in names:
            data = tomllib.loads((PRESETS / f"{candidate}.toml").read_text(encoding="utf-8"))
            return parse(data, kind, name=candidate, preset=True)
    path = Path(text).expanduser()
    if not path.is_file():
        systems = sorted({n.split("_", 1)[0] for n in names})
        raise ValidationError(
            f"mapping {text!r} is neither a preset ({', '.join(systems)}, or one of {', '.join(names)}) nor a TOML "
            "file; `salespipe import --detect FILE` says which preset fits a file",
            field="mapping",
            value=text,
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"mapping {path} is not valid TOML: {exc}", field="mapping", value=text) from None
    except OSError as exc:
        raise ValidationError(f"cannot read mapping {path}: {exc.strerror}", field="mapping", value=text) from None
    return parse(data, kind, name=str(path), preset=False, default_system=path.stem)


def _strings(value: object, where: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValidationError(f"{where} must be a column name or a list of them, got {value!r}", field="mapping")
    return [v.strip() for v in values]


def parse(data: dict, kind: str, *, name: str, preset: bool, default_system: str | None = None) -> Mapping:
    """Check a mapping's content for `kind`: known fields, targets and options, every message naming the key."""
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}", field="kind", value=kind)
    known = {"system", "kind", "description", "columns", "stages", "statuses", "options", "detect"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(
            f"mapping {name}: unknown section or key {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field="mapping",
        )
    declared = data.get("kind")
    if declared is not None and declared != kind:
        raise ValidationError(
            f"mapping {name} is for {declared}, not {kind}: pick the {kind} mapping", field="mapping", value=name
        )
    system = data.get("system", default_system or "import")
    if not isinstance(system, str) or not system.strip():
        raise ValidationError(f"mapping {name}: system must be a name such as hubspot", field="mapping")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise ValidationError(f"mapping {name} has no [columns] section", field="mapping")
    allowed = FIELDS[kind]
    aliases = ALIASES.get(kind, {})
    columns: dict[str, list[str]] = {}
    for key, value in raw_columns.items():
        target = aliases.get(key, key)
        if target not in allowed:
            raise ValidationError(
                f"mapping {name}: {key!r} is not a field of {kind}; the fields: {', '.join(allowed)}",
                field="mapping",
                value=key,
            )
        columns.setdefault(target, []).extend(_strings(value, f"[columns] {key}"))
    stages = _table(data.get("stages", {}), "stages", name)
    statuses = _table(data.get("statuses", {}), "statuses", name)
    targets = TARGETS.get(kind)
    if targets is not None:
        for source_value, target in stages.items():
            if target not in targets:
                raise ValidationError(
                    f"mapping {name}: [stages] {source_value!r} = {target!r} names no state of {kind}; use one of "
                    f"{', '.join(sorted(targets))}",
                    field="mapping",
                    value=target,
                )
        entity = ENTITY[kind]
        every_status = {st for sts in machine.STATES[entity].values() for st in sts}
        for source_value, target in statuses.items():
            if target not in every_status:
                raise ValidationError(
                    f"mapping {name}: [statuses] {source_value!r} = {target!r} is no status of {entity}; use one of "
                    f"{', '.join(sorted(every_status))}",
                    field="mapping",
                    value=target,
                )
    elif stages or statuses:
        raise ValidationError(f"mapping {name}: {kind} have no stages", field="mapping")
    if targets is not None and "stage" in columns and not stages:
        raise ValidationError(
            f"mapping {name} maps a stage column but has no [stages] table saying which values are which state",
            field="mapping",
        )
    options = dict(data.get("options", {}))
    for key, value in options.items():
        if key not in OPTIONS:
            raise ValidationError(
                f"mapping {name}: unknown option {key!r}; known: {', '.join(OPTIONS)}", field="mapping", value=key
            )
        if not isinstance(value, OPTIONS[key]):
            raise ValidationError(f"mapping {name}: option {key} must be a {OPTIONS[key].__name__}", field="mapping")
        if key in OPTION_VALUES and value not in OPTION_VALUES[key]:
            raise ValidationError(
                f"mapping {name}: option {key} must be one of {', '.join(map(repr, OPTION_VALUES[key]))}, got {value!r}",
                field="mapping",
                value=value,
            )
    detect = data.get("detect", {})
    return Mapping(
        name=name,
        system=system.strip().lower(),
        kind=kind,
        columns=columns,
        stages=stages,
        statuses=statuses,
        options=options,
        preset=preset,
        detect=detect if isinstance(detect, dict) else {},
        description=str(data.get("description", "")),
    )


def _table(value: object, section: str, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError(f"mapping {name}: [{section}] must map source values to names", field="mapping")
    return {" ".join(k.split()) if k != "*" else k: v.strip() for k, v in value.items()}


def lookup(table: dict[str, str], value: str) -> str | None:
    """A source value's target: exact after trimming (inner spaces collapsed), then ignoring case, then "*"."""
    key = " ".join(value.split())
    if key in table:
        return table[key]
    lowered = {k.lower(): v for k, v in table.items()}
    return lowered.get(key.lower(), table.get("*"))
