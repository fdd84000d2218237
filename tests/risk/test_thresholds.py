"""The threshold table, its citations, and plan overrides (deep merge, strict keys)."""

from __future__ import annotations

import json

import pytest

from surgiplan.errors import InputError
from surgiplan.paths import data_file
from surgiplan.risk.registry import get_rule, load_thresholds, rules

EXPECTED = {
    "critical_breach": {"tolerance_mm": 0.0},
    "safety_margin": {"warning_mm": 3.0, "critical_mm": 1.0},
    "trajectory_blocked": {"reserve_warning_mm": 10.0},
    "incision_over_vessel": {"warning_mm": 5.0, "critical_mm": 0.0},
    "tissue_overstrain": {"warning_strain": 0.2, "critical_strain": 0.3},
    "contact_force": {"force_warning_n": 15.0, "force_critical_n": 50.0,
                      "pressure_warning_mmhg": 20.0, "pressure_critical_mmhg": 30.0,
                      "duration_critical_s": 900.0},
    "instrument_clash": {"warning_gap_mm": 5.0, "critical_gap_mm": 0.0},
    "port_geometry": {"min_manipulation_deg": 45.0, "max_manipulation_deg": 75.0,
                      "max_working_port_spacing_mm": 150.0,
                      "min_telescope_port_spacing_mm": 50.0},
    "ablation_margin": {"critical_mm": 5.0, "info_mm": 10.0},
    "resection_remnant": {"critical_below_percent": 20.0, "warning_band_percent": 5.0},
}


def test_every_rule_has_thresholds_with_cited_sources_and_vice_versa():
    table = load_thresholds()
    assert set(table.rules) == set(rules()) == set(EXPECTED)
    for rule_id, values in EXPECTED.items():
        assert dict(table.rule(rule_id).values) == values
        rule = get_rule(rule_id)
        assert rule.title and rule.severities
        assert rule.citations and rule.citations == table.rule(rule_id).citations
        for citation in rule.citations:
            assert citation.text and citation.confidence[0] in "HML"


def test_shipped_overrides_per_tissue_and_condition():
    strain = load_thresholds().rule("tissue_overstrain")
    for tissue in ("liver", "capsule", "vessel"):
        assert strain.value("warning_strain", tissue=tissue) == 0.2
        assert strain.value("critical_strain", tissue=tissue) == 0.3
    remnant = load_thresholds().rule("resection_remnant")
    assert [remnant.value("critical_below_percent", condition=c)
            for c in ("normal", "chemotherapy", "cirrhosis")] == [20.0, 30.0, 40.0]
    assert json.loads(data_file("risk_thresholds.json").read_text())["schema_version"] == 1


def test_plan_overrides_merge_key_by_key():
    overrides = {"safety_margin": {"thresholds": {"critical_mm": 1.5},
                                   "per_structure": {"portal_vein": {"warning_mm": 5.0}},
                                   "per_tissue": {"vessel": {"warning_mm": 4.0}}}}
    margin = load_thresholds(overrides=overrides).rule("safety_margin")
    assert margin.value("warning_mm") == 3.0
    assert margin.value("critical_mm") == 1.5
    assert margin.value("warning_mm", structure="portal_vein", tissue="vessel") == 5.0
    assert margin.value("critical_mm", structure="portal_vein", tissue="vessel") == 1.5
    assert margin.value("warning_mm", structure="hepatic_vein", tissue="vessel") == 4.0
    assert load_thresholds(overrides=overrides).overridden == ("safety_margin",)
    # The shipped table is untouched.
    assert load_thresholds().rule("safety_margin").value("critical_mm") == 1.0
    assert "portal_vein" not in load_thresholds().rule("safety_margin").per["per_structure"]


def test_overrides_can_switch_a_rule_off_and_change_settings():
    overrides = {"port_geometry": {"enabled": False},
                 "trajectory_blocked": {"settings": {"exempt_categories": []}}}
    table = load_thresholds(overrides=overrides)
    assert table.rule("port_geometry").enabled is False
    assert table.rule("trajectory_blocked").setting("exempt_categories") == []
    assert load_thresholds().rule("trajectory_blocked").setting("exempt_categories") == ["drill"]


@pytest.mark.parametrize(("overrides", "names"), [
    ({"safety_margins": {}}, ["safety_margin", "critical_breach"]),
    ({"safety_margin": {"per_condition": {}}}, ["thresholds", "per_structure", "per_tissue"]),
    ({"safety_margin": {"thresholds": {"warn_mm": 4}}}, ["warning_mm", "critical_mm"]),
    ({"safety_margin": {"per_structure": {"portal_vein": {"margin": 4}}}}, ["warning_mm"]),
    ({"port_geometry": {"settings": {"scope_words": []}}}, ["telescope_words"]),
])
def test_unknown_override_names_are_errors_listing_the_valid_ones(overrides, names):
    with pytest.raises(InputError) as error:
        load_thresholds(overrides=overrides)
    for name in names:
        assert name in str(error.value)


@pytest.mark.parametrize("overrides", [
    {"safety_margin": {"thresholds": {"warning_mm": "3"}}},
    {"safety_margin": {"thresholds": {"warning_mm": True}}},
    {"safety_margin": {"thresholds": {"warning_mm": float("inf")}}},
    {"safety_margin": {"enabled": "no"}},
    {"safety_margin": []},
    {"trajectory_blocked": {"settings": {"blocking_tissues": "bone"}}},
])
def test_override_values_of_the_wrong_type_are_errors(overrides):
    with pytest.raises(InputError):
        load_thresholds(overrides=overrides)


def test_lookups_of_unknown_names_are_errors():
    table = load_thresholds()
    with pytest.raises(InputError, match="safety_margin"):
        table.rule("nope")
    with pytest.raises(InputError, match="warning_mm, critical_mm"):
        table.rule("safety_margin").value("nope")
    with pytest.raises(InputError, match="organ_tissues"):
        table.rule("critical_breach").setting("nope")


def test_a_replacement_table_is_checked(tmp_path):
    path = tmp_path / "thresholds.json"
    with pytest.raises(InputError, match="not found"):
        load_thresholds(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_thresholds(path)
    path.write_text(json.dumps({"schema_version": 2, "rules": {}}))
    with pytest.raises(InputError, match="schema_version"):
        load_thresholds(path)
    path.write_text(json.dumps({"schema_version": 1, "rules": {
        "safety_margin": {"thresholds": {"warning_mm": 4.0, "critical_mm": 2.0}}}}))
    assert load_thresholds(path).rule("safety_margin").value("warning_mm") == 4.0
