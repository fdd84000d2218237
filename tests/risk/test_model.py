"""Severity ordering and the Complication JSON contract of ``surgiplan check --json``."""

from __future__ import annotations

import json

import pytest

from surgiplan.errors import InputError
from surgiplan.risk.model import Complication, Severity, complications_json, exit_code

CONTRACT_KEYS = ["rule", "severity", "structures", "location_lps_mm", "value", "threshold",
                 "unit", "message"]
EXTRA_KEYS = ["item_id", "time_s"]


def _complication(**changes) -> Complication:
    fields = dict(rule="safety_margin", severity=Severity.WARNING, structures=("portal_vein",),
                  location_lps_mm=(1.0, 2.0, 3.0), value=1.8, threshold=3.0, unit="mm",
                  message="Needle passes 1.8 mm from the portal vein (minimum 3 mm): risk of "
                          "haemorrhage")
    fields.update(changes)
    return Complication(**fields)


def test_severities_are_ordered_info_warning_critical():
    assert Severity.INFO < Severity.WARNING < Severity.CRITICAL
    assert max([Severity.WARNING, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    assert sorted([Severity.CRITICAL, Severity.INFO, Severity.WARNING]) == [
        Severity.INFO, Severity.WARNING, Severity.CRITICAL]
    assert [s.label for s in Severity] == ["info", "warning", "critical"]
    assert str(Severity.CRITICAL) == "critical"


def test_severity_parse():
    assert Severity.parse("warning") is Severity.WARNING
    assert Severity.parse("CRITICAL") is Severity.CRITICAL
    with pytest.raises(InputError, match="info, warning, critical"):
        Severity.parse("bad")


def test_to_json_has_exactly_the_contract_keys_then_the_extras():
    row = _complication(item_id="needle-1", time_s=12.25).to_json()
    assert list(row) == CONTRACT_KEYS + EXTRA_KEYS
    assert row == {"rule": "safety_margin", "severity": "warning", "structures": ["portal_vein"],
                   "location_lps_mm": [1.0, 2.0, 3.0], "value": 1.8, "threshold": 3.0,
                   "unit": "mm", "message": _complication().message, "item_id": "needle-1",
                   "time_s": 12.25}
    assert json.loads(json.dumps(row)) == row


def test_to_json_types():
    row = _complication(structures=["a", "b"], location_lps_mm=None, value=2,
                        severity="critical").to_json()
    assert row["structures"] == ["a", "b"] and row["location_lps_mm"] is None
    assert isinstance(row["value"], float) and row["severity"] == "critical"
    assert row["item_id"] is None and row["time_s"] is None


def test_complication_rejects_non_finite_values_and_bad_locations():
    with pytest.raises(InputError, match="finite"):
        _complication(value=float("nan"))
    with pytest.raises(InputError, match="3 numbers"):
        _complication(location_lps_mm=(1.0, 2.0))


def test_check_document_and_exit_code():
    warning, critical = _complication(), _complication(severity=Severity.CRITICAL)
    assert complications_json([warning]) == {"complications": [warning.to_json()]}
    assert complications_json([]) == {"complications": []}
    assert exit_code([]) == 0 and exit_code([warning]) == 0
    assert exit_code([warning, critical]) == 1
