"""The complication thresholds a plan uses, as editable rows, and the overrides they make.

A threshold editor (the app's dialog) shows every rule of ``data/risk_thresholds.json`` with
the plan's overrides merged over it: whether the rule is on, its default thresholds and its
per-structure, per-tissue and per-condition entries, each beside the shipped value and the
rule's sources. :func:`overrides_from_rules` turns the edited rows back into the smallest
overrides that differ from the table (what :class:`~surgiplan.plan.overrides.SetThresholds`
stores in :attr:`Plan.thresholds`).

Example
-------
>>> rules = threshold_rules({})
>>> margin = next(r for r in rules if r.rule_id == "safety_margin")
>>> edited = margin.with_value("thresholds", None, "warning_mm", 2.0)
>>> overrides_from_rules([edited])
{'safety_margin': {'thresholds': {'warning_mm': 2.0}}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from surgiplan.plan.overrides import validate_overrides
from surgiplan.risk.thresholds import PER_KINDS, Citation, RuleThresholds, load_thresholds

UNIT_SUFFIXES = (("_mm", "mm"), ("_deg", "deg"), ("_n", "N"), ("_mmhg", "mmHg"), ("_s", "s"),
                 ("_percent", "%"))
DEFAULTS = "thresholds"


def unit_of(key: str) -> str:
    """The unit a threshold name carries (``warning_mm`` -> ``mm``; strain: ``""``)."""
    for suffix, unit in UNIT_SUFFIXES:
        if key.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class ThresholdRow:
    """One threshold value of one rule.

    Attributes
    ----------
    section : str
        ``"thresholds"`` (the rule's defaults), ``"per_structure"``, ``"per_tissue"`` or
        ``"per_condition"``.
    name : str or None
        The structure, tissue or condition (``None`` for the defaults).
    key : str
        Threshold name; its suffix carries the unit (see :func:`unit_of`).
    value : float
        The value the plan uses.
    table_value : float or None
        The shipped table's value (``None``: the plan adds this entry).
    """

    section: str
    name: str | None
    key: str
    value: float
    table_value: float | None

    @property
    def unit(self) -> str:
        return unit_of(self.key)

    @property
    def changed(self) -> bool:
        """Whether the plan's value differs from the table's."""
        return self.table_value is None or self.value != self.table_value


@dataclass(frozen=True)
class RuleRows:
    """One rule as the editor shows it.

    Attributes
    ----------
    rule_id : str
        Rule id (``safety_margin``).
    enabled, table_enabled : bool
        Whether the plan runs the rule; whether the table does.
    rows : tuple of ThresholdRow
        Defaults first, then the per-structure/tissue/condition entries.
    citations : tuple of Citation
        Sources of the defaults.
    """

    rule_id: str
    enabled: bool
    table_enabled: bool
    rows: tuple[ThresholdRow, ...]
    citations: tuple[Citation, ...] = ()

    def with_value(self, section: str, name: str | None, key: str, value: float) -> RuleRows:
        """The rule with one row's value changed (the row is added when new)."""
        rows = list(self.rows)
        for i, row in enumerate(rows):
            if (row.section, row.name, row.key) == (section, name, key):
                rows[i] = replace(row, value=float(value))
                return replace(self, rows=tuple(rows))
        return replace(self, rows=(*rows, ThresholdRow(section, name, key, float(value), None)))

    def with_entry(self, section: str, name: str) -> RuleRows:
        """The rule with a ``section`` entry for ``name`` holding every default threshold (at
        the value the plan uses for it now); unchanged when the entry exists."""
        if any(row.section == section and row.name == name for row in self.rows):
            return self
        defaults = [row for row in self.rows if row.section == DEFAULTS]
        added = tuple(ThresholdRow(section, name, row.key, row.value, None) for row in defaults)
        return replace(self, rows=self.rows + added)

    def with_enabled(self, enabled: bool) -> RuleRows:
        return replace(self, enabled=bool(enabled))


def _rows(rule: RuleThresholds, table: RuleThresholds | None) -> tuple[ThresholdRow, ...]:
    def shipped(section: str, name: str | None, key: str) -> float | None:
        if table is None:
            return None
        if section == DEFAULTS:
            return table.values.get(key)
        return table.per.get(section, {}).get(name, {}).get(key)

    rows = [ThresholdRow(DEFAULTS, None, key, float(value), shipped(DEFAULTS, None, key))
            for key, value in rule.values.items()]
    for section in PER_KINDS:
        for name, entry in sorted(rule.per.get(section, {}).items()):
            rows += [ThresholdRow(section, name, key, float(value), shipped(section, name, key))
                     for key, value in entry.items()]
    return tuple(rows)


def threshold_rules(overrides: Mapping[str, Any]) -> list[RuleRows]:
    """Every rule's thresholds with a plan's overrides merged over the table.

    Parameters
    ----------
    overrides : mapping
        :attr:`Plan.thresholds` (rule id -> partial table entry).

    Returns
    -------
    list of RuleRows
        In the table's order.
    """
    table = load_thresholds()
    merged = load_thresholds(overrides=overrides) if overrides else table
    return [RuleRows(rule_id, rule.enabled, table.rules[rule_id].enabled,
                     _rows(rule, table.rules[rule_id]), rule.citations)
            for rule_id, rule in merged.rules.items()]


def overrides_from_rules(rules: Sequence[RuleRows]) -> dict[str, Any]:
    """The overrides that make the table read as ``rules`` (only what differs from it).

    Returns
    -------
    dict
        Rule id -> ``enabled`` and the changed thresholds by section, validated against the
        table (:func:`~surgiplan.plan.overrides.validate_overrides`).
    """
    out: dict[str, Any] = {}
    for rule in rules:
        entry: dict[str, Any] = {}
        if rule.enabled != rule.table_enabled:
            entry["enabled"] = rule.enabled
        for row in rule.rows:
            if not row.changed:
                continue
            section = entry.setdefault(row.section, {})
            target = section if row.name is None else section.setdefault(row.name, {})
            target[row.key] = row.value
        if entry:
            out[rule.rule_id] = entry
    return validate_overrides(out, "edited thresholds")
