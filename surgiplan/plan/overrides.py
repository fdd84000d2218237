"""A plan's own complication thresholds: overrides of ``data/risk_thresholds.json``.

A plan may tighten or relax the rules' thresholds (a surgeon accepting 2 mm from a vessel for
this patient). The overrides have the layout of one table entry per rule id, without
citations and notes::

    {"safety_margin": {"thresholds": {"warning_mm": 2.0},
                       "per_structure": {"portal_vein": {"warning_mm": 4.0}}},
     "port_geometry": {"enabled": false}}

They are checked against the shipped table when read (:func:`validate_overrides`: unknown rule
ids, sections, threshold names or settings and wrong types are errors naming the key and the
valid ones), stored in :attr:`Plan.thresholds`, saved with the plan (plan JSON and case file)
and merged over the table by the plan check
(:func:`surgiplan.risk.thresholds.load_thresholds`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from surgiplan.errors import InputError
from surgiplan.plan.model import Plan

OVERRIDES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "rule id -> threshold overrides (the layout of one entry of "
                   "data/risk_thresholds.json without citations and notes)",
    "additionalProperties": {
        "type": "object", "additionalProperties": False,
        "properties": {"thresholds": {"type": "object"}, "per_structure": {"type": "object"},
                       "per_tissue": {"type": "object"}, "per_condition": {"type": "object"},
                       "settings": {"type": "object"}, "enabled": {"type": "boolean"}}},
}
"""JSON Schema of a plan's ``thresholds`` (names are checked against the table when read)."""


def validate_overrides(data: Any, where: str = "thresholds") -> dict[str, Any]:
    """Check threshold overrides against the shipped table; return a deep copy.

    Parameters
    ----------
    data : Any
        Parsed JSON: rule id -> partial entry (``thresholds``, ``per_structure``,
        ``per_tissue``, ``per_condition``, ``settings``, ``enabled``).
    where : str
        Where the overrides come from, for messages (``"thresholds"`` of a plan file).

    Raises
    ------
    InputError
        Naming ``where``, the offending rule or key and the valid ones.
    """
    from surgiplan.risk.thresholds import load_thresholds

    if not isinstance(data, Mapping):
        raise InputError(f"{where} must be an object of rule ids to threshold overrides, e.g. "
                         '{"safety_margin": {"thresholds": {"warning_mm": 2.0}}}')
    try:
        load_thresholds(overrides=data)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return copy.deepcopy(dict(data))


def merge_overrides(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged over it key by key (nested objects merged, other values
    replaced), as :func:`~surgiplan.risk.thresholds.load_thresholds` merges over the table."""
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class SetThresholds:
    """Merge threshold overrides into a plan's (one undoable command).

    Attributes
    ----------
    overrides : dict
        Validated overrides (:func:`validate_overrides`), merged over the plan's.
    replace : bool
        Replace the plan's overrides instead of merging.
    """

    overrides: dict[str, Any]
    replace: bool = False
    text: str = ""
    _previous: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.text = self.text or f"Set thresholds of {', '.join(self.overrides) or 'no rule'}"

    def do(self, plan: Plan) -> None:
        self._previous = copy.deepcopy(plan.thresholds)
        plan.thresholds = (copy.deepcopy(self.overrides) if self.replace
                           else merge_overrides(plan.thresholds, self.overrides))

    def undo(self, plan: Plan) -> None:
        plan.thresholds = copy.deepcopy(self._previous)
