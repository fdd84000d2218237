"""Threshold rows for the editor, and the overrides they make, against the shipped table."""

from __future__ import annotations

import pytest

from surgiplan.errors import InputError
from surgiplan.plan.threshold_table import overrides_from_rules, threshold_rules, unit_of
from surgiplan.risk.thresholds import load_thresholds


def _rule(rules, rule_id):
    return next(r for r in rules if r.rule_id == rule_id)


def test_rows_without_overrides_are_the_table_and_make_no_overrides():
    table = load_thresholds()
    rules = threshold_rules({})
    assert [r.rule_id for r in rules] == list(table.rules)
    margin = _rule(rules, "safety_margin")
    defaults = {row.key: row.value for row in margin.rows if row.name is None}
    assert defaults == dict(table.rule("safety_margin").values)
    assert not any(row.changed for rule in rules for row in rule.rows)
    assert overrides_from_rules(rules) == {}


def test_plan_overrides_show_as_changed_rows_and_round_trip():
    overrides = {"safety_margin": {"thresholds": {"warning_mm": 2.0},
                                   "per_structure": {"portal_vein": {"critical_mm": 1.5}}},
                 "port_geometry": {"enabled": False}}
    rules = threshold_rules(overrides)
    margin = _rule(rules, "safety_margin")
    warning = next(r for r in margin.rows if r.name is None and r.key == "warning_mm")
    assert (warning.value, warning.table_value, warning.changed) == (2.0, 3.0, True)
    vein = next(r for r in margin.rows if r.name == "portal_vein")
    assert (vein.section, vein.value, vein.table_value) == ("per_structure", 1.5, None)
    assert not _rule(rules, "port_geometry").enabled
    assert overrides_from_rules(rules) == overrides


def test_setting_a_value_back_to_the_table_drops_the_override():
    rules = threshold_rules({"safety_margin": {"thresholds": {"warning_mm": 2.0}}})
    margin = _rule(rules, "safety_margin").with_value("thresholds", None, "warning_mm", 3.0)
    assert overrides_from_rules([margin]) == {}


def test_structure_entry_starts_at_the_plans_defaults():
    rules = threshold_rules({"safety_margin": {"thresholds": {"warning_mm": 4.0}}})
    margin = _rule(rules, "safety_margin").with_entry("per_structure", "aorta")
    assert margin.with_entry("per_structure", "aorta") == margin  # no second entry
    out = overrides_from_rules([margin])
    assert out["safety_margin"]["per_structure"]["aorta"] == {"warning_mm": 4.0,
                                                              "critical_mm": 1.0}
    thresholds = load_thresholds(overrides=out).rule("safety_margin")
    assert thresholds.value("warning_mm", structure="aorta") == 4.0


def test_disabling_a_rule_makes_an_enabled_override():
    rules = [r.with_enabled(False) if r.rule_id == "contact_force" else r
             for r in threshold_rules({})]
    assert overrides_from_rules(rules) == {"contact_force": {"enabled": False}}


def test_unknown_threshold_is_refused_naming_it():
    margin = _rule(threshold_rules({}), "safety_margin").with_value(
        "thresholds", None, "warning_furlongs", 1.0)
    with pytest.raises(InputError, match="warning_furlongs"):
        overrides_from_rules([margin])


@pytest.mark.parametrize("key, unit", [("warning_mm", "mm"), ("force_warning_n", "N"),
                                       ("pressure_critical_mmhg", "mmHg"),
                                       ("min_manipulation_deg", "deg"),
                                       ("duration_critical_s", "s"),
                                       ("critical_below_percent", "%"),
                                       ("warning_strain", "")])
def test_units_come_from_the_key(key, unit):
    assert unit_of(key) == unit
