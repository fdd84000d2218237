"""Rule thresholds: the shipped table (``data/risk_thresholds.json``) merged with plan overrides.

A plan's overrides have the layout of one table entry per rule id, e.g.::

    {"safety_margin": {"thresholds": {"warning_mm": 4.0},
                       "per_structure": {"portal_vein": {"warning_mm": 5.0}}},
     "port_geometry": {"enabled": false}}

They are merged key by key over the table (a ``per_structure`` entry for ``portal_vein`` keeps
the table's other structures). Unknown rule ids, sections, threshold names or settings raise
:class:`InputError` listing the valid ones, so a typo never silently keeps a default.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from surgiplan.errors import InputError
from surgiplan.io.json_data import read_json
from surgiplan.paths import data_file

SCHEMA_VERSION = 1
PER_KINDS = ("per_structure", "per_tissue", "per_condition")
"""Override sections, most specific first when a rule looks a value up."""
OVERRIDABLE = ("thresholds", *PER_KINDS, "settings", "enabled")
FILE_ONLY = ("citations", "notes")


@dataclass(frozen=True)
class Citation:
    """A source of a threshold: text, address and confidence (H, M or L, as in physics.md)."""

    text: str
    url: str
    confidence: str


@dataclass(frozen=True)
class RuleThresholds:
    """The thresholds of one rule after merging.

    Attributes
    ----------
    rule_id : str
        The rule.
    values : mapping of str to float
        Default thresholds; names carry the unit (``warning_mm``, ``force_critical_n``).
    per : mapping
        ``per_structure`` / ``per_tissue`` / ``per_condition`` -> name -> partial thresholds.
    settings : mapping
        Non-numeric parameters (lists of tissues, categories...).
    enabled : bool
        False switches the rule off.
    citations : tuple of Citation
        Sources of the defaults.
    """

    rule_id: str
    values: Mapping[str, float]
    per: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    citations: tuple[Citation, ...] = ()

    def __post_init__(self) -> None:
        # Read-only views: the shipped table is cached and shared by every context.
        per = {kind: MappingProxyType({name: MappingProxyType(dict(row))
                                       for name, row in rows.items()})
               for kind, rows in self.per.items()}
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "per", MappingProxyType(per))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def value(self, key: str, *, structure: str | None = None, tissue: str | None = None,
              condition: str | None = None) -> float:
        """Threshold ``key`` for a structure / tissue / condition, else the default.

        A ``per_structure`` entry wins over ``per_tissue``, which wins over ``per_condition``;
        a section without ``key`` falls through to the next.
        """
        if key not in self.values:
            raise InputError(f"rule {self.rule_id!r} has no threshold {key!r}: use one of "
                             f"{', '.join(self.values)}")
        for kind, name in zip(PER_KINDS, (structure, tissue, condition), strict=True):
            entry = self.per.get(kind, {}).get(name) if name is not None else None
            if entry and key in entry:
                return float(entry[key])
        return float(self.values[key])

    def setting(self, key: str) -> Any:
        """Setting ``key`` (:class:`InputError` naming the known ones if absent)."""
        if key not in self.settings:
            raise InputError(f"rule {self.rule_id!r} has no setting {key!r}: use one of "
                             f"{', '.join(self.settings) or 'none'}")
        return self.settings[key]


@dataclass(frozen=True)
class Thresholds:
    """Every rule's thresholds, by rule id, and where they came from."""

    rules: Mapping[str, RuleThresholds]
    source: str = ""
    overridden: tuple[str, ...] = ()

    def rule(self, rule_id: str) -> RuleThresholds:
        """The thresholds of ``rule_id``; :class:`InputError` naming the known ids if absent."""
        if rule_id not in self.rules:
            raise InputError(f"no thresholds for rule {rule_id!r} in {self.source}: use one of "
                             f"{', '.join(self.rules)}")
        return self.rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self.rules


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be an object of names to values, got {value!r}")
    return value


def _unknown(keys: Any, valid: Any, where: str) -> None:
    """:class:`InputError` when ``keys`` holds names outside ``valid``."""
    unknown = sorted(set(keys) - set(valid))
    if unknown:
        raise InputError(f"{where}: unknown {', '.join(map(repr, unknown))}; valid: "
                         f"{', '.join(valid) or 'none'}")


def _numbers(values: Any, valid: Any, where: str) -> dict[str, float]:
    values = _mapping(values, where)
    _unknown(values, valid, where)
    return {key: _number(value, f"{where} {key}") for key, value in values.items()}


def _parse_rule(rule_id: str, entry: Any, where: str) -> RuleThresholds:
    """One table entry of the shipped (or a replacement) file."""
    entry = _mapping(entry, where)
    _unknown(entry, OVERRIDABLE + FILE_ONLY, where)
    raw = _mapping(entry.get("thresholds", {}), f"{where} thresholds")
    values = {key: _number(value, f"{where} thresholds {key}") for key, value in raw.items()}
    per = {}
    for kind in PER_KINDS:
        if kind in entry:
            names = _mapping(entry[kind], f"{where} {kind}")
            per[kind] = {name: _numbers(row, values, f"{where} {kind} {name}")
                         for name, row in names.items()}
    citations = []
    for n, row in enumerate(entry.get("citations", [])):
        row = _mapping(row, f"{where} citation {n}")
        citations.append(Citation(str(row.get("text", "")), str(row.get("url", "")),
                                  str(row.get("confidence", "L"))))
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InputError(f"{where} enabled must be true or false")
    settings = dict(_mapping(entry.get("settings", {}), f"{where} settings"))
    return RuleThresholds(rule_id, values, per, settings, enabled, tuple(citations))


@lru_cache(maxsize=8)
def _read_table(path: Path) -> Thresholds:
    document = read_json(path, "risk threshold table")
    document = _mapping(document, str(path))
    if document.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: schema_version {document.get('schema_version')!r} is not "
                         f"{SCHEMA_VERSION}: write it in the schema of data/risk_thresholds.json")
    rules = _mapping(document.get("rules"), f"{path} rules")
    parsed = {rule_id: _parse_rule(rule_id, entry, f"{path}: rule {rule_id!r}")
              for rule_id, entry in rules.items()}
    return Thresholds(parsed, str(path))


def _merge_settings(base: Mapping[str, Any], raw: Any, where: str) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in _mapping(raw, where).items():
        _unknown([key], base, where)
        if type(value) is not type(base[key]):
            raise InputError(f"{where} {key} must be a {type(base[key]).__name__} like the "
                             f"default {base[key]!r}")
        merged[key] = copy.deepcopy(value)
    return merged


def _merge_rule(base: RuleThresholds, raw: Any, where: str) -> RuleThresholds:
    """``base`` with a plan's override entry merged over it."""
    raw = _mapping(raw, where)
    valid = [key for key in OVERRIDABLE if key in ("thresholds", "settings", "enabled")
             or key in base.per]
    _unknown(raw, valid, where)
    values = {**base.values, **_numbers(raw.get("thresholds", {}), base.values,
                                        f"{where} thresholds")}
    per = {kind: {name: dict(row) for name, row in rows.items()}
           for kind, rows in base.per.items()}
    for kind in base.per:
        for name, row in _mapping(raw.get(kind, {}), f"{where} {kind}").items():
            numbers = _numbers(row, base.values, f"{where} {kind} {name}")
            per[kind][name] = {**per[kind].get(name, {}), **numbers}
    settings = _merge_settings(base.settings, raw.get("settings", {}), f"{where} settings")
    enabled = raw.get("enabled", base.enabled)
    if not isinstance(enabled, bool):
        raise InputError(f"{where} enabled must be true or false")
    return RuleThresholds(base.rule_id, values, per, settings, enabled, base.citations)


def load_thresholds(path: str | Path | None = None,
                    overrides: Mapping[str, Any] | None = None) -> Thresholds:
    """Read the threshold table and merge a plan's overrides over it.

    Parameters
    ----------
    path : path, optional
        Threshold table; ``data/risk_thresholds.json`` when omitted.
    overrides : mapping, optional
        Rule id -> partial entry (``thresholds``, ``per_structure``, ``per_tissue``,
        ``per_condition``, ``settings``, ``enabled``), merged key by key. Thresholds carry the
        table's units (mm, deg, N, mmHg, s, %, strain).

    Returns
    -------
    Thresholds
        Per rule: values, per-structure/tissue/condition overrides, settings, citations.

    Raises
    ------
    InputError
        An unreadable table, or an override naming an unknown rule, section, threshold or
        setting (the message lists the valid ones), or a value of the wrong type.
    """
    table = _read_table(Path(path).resolve() if path is not None
                        else data_file("risk_thresholds.json").resolve())
    if not overrides:
        return table
    overrides = _mapping(overrides, "threshold overrides")
    _unknown(overrides, list(table.rules), "threshold overrides: rule ids")
    rules = dict(table.rules)
    for rule_id, raw in overrides.items():
        rules[rule_id] = _merge_rule(table.rules[rule_id], raw,
                                     f"threshold overrides for {rule_id!r}")
    return Thresholds(rules, table.source, tuple(overrides))
