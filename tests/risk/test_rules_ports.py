"""Instrument clash and laparoscopic port geometry on both sides of thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surgiplan.plan.model import Plan
from surgiplan.plan.placement import place_along_path
from surgiplan.risk.context import ClashFindings, RiskContext
from surgiplan.risk.model import Severity
from surgiplan.risk.registry import get_rule, load_thresholds
from tests.risk.scenes import catalogue, context, findings, needle, telescope


def _run(rule_id: str, ctx):
    return get_rule(rule_id).evaluate(ctx)


# instrument_clash -------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "severity"), [
    (5.1, None), (4.9, Severity.WARNING), (0.1, Severity.WARNING), (0.0, Severity.CRITICAL),
    (-1.5, Severity.CRITICAL)])
def test_clash_gap_below_5_mm_warns_and_contact_is_critical(gap, severity):
    clash = ClashFindings("grasper-1", "grasper-2", gap, (1.0, 2.0, 3.0))
    found = _run("instrument_clash", context(clashes=[clash]))
    assert [c.severity for c in found] == ([] if severity is None else [severity])


def test_clash_message():
    clash = ClashFindings("grasper-1", "grasper-2", 3.0, (1.0, 2.0, 3.0))
    [found] = _run("instrument_clash", context(clashes=[clash]))
    assert found.message == ("Instruments grasper-1 and grasper-2 pass 3 mm apart (minimum "
                             "5 mm): risk of instrument clash")
    assert (found.value, found.threshold, found.location_lps_mm) == (3.0, 5.0, (1.0, 2.0, 3.0))


# port_geometry ----------------------------------------------------------------------------


def _pair(angle_deg: float, length_mm: float = 100.0, instrument_id: str = "grasper_5mm"):
    """Two instruments from ports ``length_mm`` from a common target at ``angle_deg``."""
    half = math.radians(angle_deg / 2)
    entries = [(length_mm * math.sin(half) * s, 0.0, length_mm * math.cos(half)) for s in (1, -1)]
    return [needle(entry, (0, 0, 0), item_id=f"g{n}", instrument_id=instrument_id)
            for n, entry in enumerate(entries, start=1)]


@pytest.mark.parametrize(("angle", "flagged", "threshold"), [
    (44.9, True, 45.0), (45.1, False, None), (60.0, False, None), (74.9, False, None),
    (75.1, True, 75.0)])
def test_manipulation_angle_outside_45_to_75_deg(angle, flagged, threshold):
    found = _run("port_geometry", context(*[findings(p) for p in _pair(angle)]))
    assert [(c.unit, c.threshold) for c in found] == ([("deg", threshold)] if flagged else [])
    if flagged:
        assert found[0].severity is Severity.WARNING
        assert found[0].value == pytest.approx(angle, abs=1e-6)
        assert "between g1 and g2" in found[0].message
        assert "acceptable 45-75 deg" in found[0].message


@pytest.mark.parametrize(("spacing", "flagged"), [(149.9, False), (150.1, True)])
def test_working_ports_at_most_15_cm_apart(spacing, flagged):
    placements = _pair(60.0, length_mm=spacing)  # at 60 deg the ports are `length` apart
    found = _run("port_geometry", context(*[findings(p) for p in placements]))
    assert [c.unit for c in found] == (["mm"] if flagged else [])
    if flagged:
        assert found[0].value == pytest.approx(spacing)
        assert "15.01 cm apart (at most 15 cm)" in found[0].message


@pytest.mark.parametrize(("offset", "flagged"), [(49.9, True), (50.1, False)])
def test_telescope_port_at_least_5_cm_from_an_instrument_port(offset, flagged):
    placements = _pair(60.0)
    scope_entry = np.add(placements[0].entry_lps_mm, (0.0, offset, 0.0))
    scope = place_along_path("scope", telescope(), scope_entry, (0, 0, 0))
    found = _run("port_geometry", context(*[findings(p) for p in [*placements, scope]]))
    assert [c.item_id for c in found] == (["g1"] if flagged else [])
    if flagged:
        assert found[0].threshold == 50.0 and "Telescope port of scope" in found[0].message


def test_ports_alone_are_checked_from_the_plan_and_catalogue():
    plan = Plan()
    for placement in _pair(30.0, instrument_id="trocar_12mm"):
        plan.instruments[placement.id] = placement
    ctx = RiskContext(plan=plan, catalogue=catalogue(), thresholds=load_thresholds())
    [found] = _run("port_geometry", ctx)
    assert found.value == pytest.approx(30.0) and found.threshold == 45.0


def test_non_laparoscopic_instruments_have_no_port_geometry():
    needles = _pair(20.0, instrument_id="biopsy_needle_18g")
    assert _run("port_geometry", context(*[findings(p) for p in needles])) == []
