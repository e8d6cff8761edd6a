"""Imports of CRM exports (Salesforce, Dynamics 365, HubSpot, any CSV/Excel/Parquet), undoable per batch.

    result = sp.imports.load(db, "opportunities", "Opportunity.csv", "salesforce")
    print(result)                      # created, updated, unchanged, skipped, rejected, the batch
    sp.imports.detect("deals.csv")     # which preset fits, and why
    sp.imports.undo(db, result.batch_id)

Modules: read (files), mapping (mappings as data, presets in salespipe/presets/mappings), values
(each column read with the engine's checks; dates decided per column), parse (fields and states
of each row), deals / people / history (what each kind writes, through the bulk transitions),
batch (the bookkeeping undo needs), load (the whole import), undo, detect.
"""

from .detect import Detection, detect
from .load import KINDS, ImportRejected, ImportResult, load
from .mapping import Mapping, preset_names
from .undo import Undone, batches, undo

__all__ = [
    "KINDS",
    "Detection",
    "ImportRejected",
    "ImportResult",
    "Mapping",
    "Undone",
    "batches",
    "detect",
    "load",
    "preset_names",
    "undo",
]
