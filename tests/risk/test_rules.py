"""Instrument rules on synthetic scenes: answers on both sides of every threshold."""

from __future__ import annotations

import pytest

from surgiplan.plan.trajectory import analyse_trajectory
from surgiplan.risk.context import Entry
from surgiplan.risk.model import Severity
from surgiplan.risk.registry import evaluate_all, get_rule
from tests.risk.scenes import (
    body_twin,
    clearance,
    context,
    findings,
    needle,
    only,
    straight_trajectory,
)


@pytest.fixture(scope="module")
def body():
    return body_twin()


def _run(rule_id: str, ctx):
    return get_rule(rule_id).evaluate(ctx)


# critical_breach ---------------------------------------------------------------------------


def _traced(body, item_id, entry, target, target_structure=None):
    placement = needle(entry, target, item_id=item_id)
    return findings(placement, target_structure=target_structure,
                    trajectory=analyse_trajectory(body, entry, target))


def test_needle_to_the_tumour_through_its_liver_breaches_nothing(body):
    ctx = context(_traced(body, "n1", (0, 100, 0), (0, 40, 0), "tumour"), twin=body)
    assert _run("critical_breach", ctx) == []


def test_needle_through_the_portal_vein_is_critical(body):
    ctx = context(_traced(body, "n2", (60, -80, 0), (60, -40, 0)), twin=body)
    [found] = _run("critical_breach", ctx)
    assert found.severity is Severity.CRITICAL
    assert found.structures == ("portal_vein",)
    assert found.value == pytest.approx(16.0, abs=0.1)  # y -68 .. -52
    assert found.location_lps_mm == pytest.approx((60, -68, 0), abs=0.1)
    assert found.item_id == "n2"
    assert found.message.startswith("Needle enters the portal vein (16 mm inside)")
    assert "haemorrhage" in found.message


def test_needle_through_a_non_target_organ_is_critical_but_its_target_organ_is_not(body):
    entry = (-95.3939, 30.0, 0.0)  # on the skin; the path crosses the stomach, then the liver
    ctx = context(_traced(body, "n3", entry, (0, 40, 0), "tumour"), twin=body)
    [found] = _run("critical_breach", ctx)
    assert found.structures == ("stomach",)
    assert "perforation" in found.message


def test_an_organ_is_allowed_only_when_it_holds_the_target(body):
    # Tip stops in the liver short of the tumour: the liver holds the target, fine.
    ctx = context(_traced(body, "n4", (0, 100, 0), (0, 60, 0), "liver"), twin=body)
    assert _run("critical_breach", ctx) == []
    # A path through the liver and out of it (tip at y = -40, in the skin only) breaches it.
    ctx = context(_traced(body, "n5", (0, 100, 0), (0, -40, 0), "skin"), twin=body)
    assert [c.structures for c in _run("critical_breach", ctx)] == [("liver",)]


def test_entered_structures_without_a_trajectory_use_the_twin(body):
    placement = needle((0, 100, 0), (0, 40, 0))  # tip in the tumour, inside the liver
    stub = findings(placement, target_structure="tumour",
                    entered={"liver": Entry(30.0, (0, 70, 0)),
                             "portal_vein": Entry(0.4, (1, 2, 3))})
    [found] = _run("critical_breach", context(stub, twin=body))
    assert found.structures == ("portal_vein",)
    assert found.value == pytest.approx(0.4)
    assert found.location_lps_mm == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(("depth", "flagged"), [(0.4, False), (0.6, True)])
def test_breach_tolerance_override_both_sides(body, depth, flagged):
    placement = needle((60, -80, 0), (60, -40, 0))
    stub = findings(placement, entered={"portal_vein": Entry(depth, (60, -68, 0))})
    ctx = context(stub, twin=body,
                  overrides={"critical_breach": {"thresholds": {"tolerance_mm": 0.5}}})
    assert bool(_run("critical_breach", ctx)) is flagged


def test_breach_without_a_twin_uses_the_crossing_critical_flag():
    placement = needle((0, 0, 0), (0, 0, 100))
    trajectory = straight_trajectory((0, 0, 0), (0, 0, 100),
                                     [("artery", 40.0, 45.0, True), ("fat", 0.0, 100.0, False)])
    [found] = _run("critical_breach", context(findings(placement, trajectory=trajectory)))
    assert found.structures == ("artery",)
    assert found.location_lps_mm == pytest.approx((0, 0, 40))


# safety_margin ----------------------------------------------------------------------------


def _margin(body, distance, name="portal_vein", overrides=None, **fields):
    placement = needle((60, -80, 0), (30, -40, 0))
    stub = findings(placement, clearances={name: clearance(distance, (55, -60, 0))}, **fields)
    return _run("safety_margin", context(stub, twin=body, overrides=overrides))


@pytest.mark.parametrize(("distance", "severity"), [
    (3.1, None), (2.9, Severity.WARNING), (1.1, Severity.WARNING), (0.9, Severity.CRITICAL)])
def test_margin_default_3_mm_warning_and_1_mm_critical(body, distance, severity):
    found = _margin(body, distance)
    assert [c.severity for c in found] == ([] if severity is None else [severity])


def test_margin_message_names_structure_value_and_minimum(body):
    [found] = _margin(body, 1.8)
    assert found.message == ("Needle passes 1.8 mm from the portal vein (minimum 3 mm): risk of "
                             "haemorrhage")
    assert (found.value, found.threshold, found.unit) == (1.8, 3.0, "mm")
    assert found.location_lps_mm == (55.0, -60.0, 0.0)
    [critical] = _margin(body, 0.9)
    assert critical.threshold == 1.0
    assert "0.9 mm from the portal vein (minimum 3 mm, critical below 1 mm)" in critical.message


@pytest.mark.parametrize(("distance", "flagged"), [(4.9, True), (5.1, False)])
def test_margin_per_structure_override(body, distance, flagged):
    overrides = {"safety_margin": {"per_structure": {"portal_vein": {"warning_mm": 5.0}}}}
    found = _margin(body, distance, overrides=overrides)
    assert bool(found) is flagged
    if flagged:
        assert "(minimum 5 mm)" in found[0].message


@pytest.mark.parametrize(("distance", "severity"), [(1.9, Severity.CRITICAL),
                                                    (2.1, Severity.WARNING)])
def test_margin_per_tissue_override(body, distance, severity):
    overrides = {"safety_margin": {"per_tissue": {"vessel": {"critical_mm": 2.0}}}}
    [found] = _margin(body, distance, overrides=overrides)
    assert found.severity is severity


def test_margin_ignores_non_critical_target_and_entered_structures(body):
    assert _margin(body, 0.5, name="liver") == []
    assert _margin(body, 0.5, target_structure="portal_vein") == []
    assert _margin(body, 0.0, entered={"portal_vein": Entry(2.0, (60, -60, 0))}) == []


def test_margin_checks_a_non_critical_structure_given_its_own_margin(body):
    overrides = {"safety_margin": {"per_structure": {"liver": {"warning_mm": 2.0}}}}
    [found] = _margin(body, 1.5, name="liver", overrides=overrides)
    assert found.severity is Severity.WARNING


def test_margin_without_a_twin_checks_every_clearance():
    stub = findings(needle((0, 0, 0), (0, 0, 50)), clearances={"nerve_x": clearance(2.0)})
    [found] = _run("safety_margin", context(stub))
    assert found.message.endswith("risk of injury")


# trajectory_blocked -----------------------------------------------------------------------


def test_path_through_a_rib_is_blocked(body):
    ctx = context(_traced(body, "n6", (-40, -91.6515, 0), (-40, -60, 0)), twin=body)
    [found] = _run("trajectory_blocked", ctx)
    assert found.severity is Severity.CRITICAL
    assert found.structures == ("rib",)
    assert found.value == pytest.approx(12.0, abs=0.1)
    assert "through the rib (bone)" in found.message and "blocked" in found.message
    assert _run("critical_breach", ctx) == []


def test_bone_is_not_a_block_for_a_drill_or_when_it_is_the_target(body):
    entry, target = (-40, -91.6515, 0), (-40, -60, 0)
    drill = needle(entry, target, item_id="d1", instrument_id="drill")
    stub = findings(drill, trajectory=analyse_trajectory(body, entry, target))
    assert _run("trajectory_blocked", context(stub, twin=body)) == []
    biopsy = _traced(body, "n7", entry, (-40, -80, 0), target_structure="rib")
    assert _run("trajectory_blocked", context(biopsy, twin=body)) == []


@pytest.mark.parametrize(("length", "severity", "threshold"), [
    (139.9, None, None), (140.1, Severity.WARNING, 140.0), (149.9, Severity.WARNING, 140.0),
    (150.1, Severity.CRITICAL, 150.0)])
def test_reach_of_the_18g_needle_150_mm(length, severity, threshold):
    placement = needle((0, 0, 0), (0, 0, length))
    found = _run("trajectory_blocked", context(findings(placement)))  # entry -> target length
    assert [(c.severity, c.threshold) for c in found] == (
        [] if severity is None else [(severity, threshold)])
    if severity is Severity.CRITICAL:
        assert "out of reach" in found[0].message and "150 mm" in found[0].message


# contact_force ----------------------------------------------------------------------------


def _contact(body=None, overrides=None, **fields):
    grasper = needle((0, 100, 0), (0, 60, 0), item_id="g1", instrument_id="grasper_5mm")
    return _run("contact_force", context(findings(grasper, **fields), twin=body,
                                         overrides=overrides))


@pytest.mark.parametrize(("force", "severity"), [
    (14.9, None), (15.1, Severity.WARNING), (49.9, Severity.WARNING), (50.1, Severity.CRITICAL)])
def test_contact_force_15_and_50_n(body, force, severity):
    found = _contact(body, contact_force_n=force, contact_structure="stomach")
    assert [c.severity for c in found] == ([] if severity is None else [severity])
    if severity is not None:
        assert found[0].unit == "N" and found[0].structures == ("stomach",)
        assert f"pushes {force} N on the stomach (maximum 15 N)" in found[0].message


@pytest.mark.parametrize(("pressure", "severity"), [
    (19.9, None), (20.1, Severity.WARNING), (29.9, Severity.WARNING),
    (30.1, Severity.CRITICAL)])
def test_retraction_pressure_20_and_30_mmhg(pressure, severity):
    found = _contact(contact_pressure_mmhg=pressure, contact_structure="brain")
    assert [c.severity for c in found] == ([] if severity is None else [severity])
    if severity is not None:
        assert found[0].unit == "mmHg" and "ischaemia" in found[0].message


@pytest.mark.parametrize(("held_s", "flagged"), [(899.0, False), (901.0, True)])
def test_retraction_held_above_20_mmhg_for_15_min(held_s, flagged):
    found = _contact(contact_pressure_mmhg=18.0, contact_duration_s=held_s)
    assert bool(found) is flagged
    if flagged:
        assert found[0].severity is Severity.CRITICAL and found[0].unit == "s"
        assert "for 15.02 min (maximum 15 min)" in found[0].message


def test_contact_force_per_tissue_override(body):
    overrides = {"contact_force": {"per_tissue": {"stomach": {"force_warning_n": 5.0}}}}
    [found] = _contact(body, overrides, contact_force_n=6.0, contact_structure="stomach")
    assert found.threshold == 5.0
    assert _contact(body, overrides, contact_force_n=4.0, contact_structure="stomach") == []


def test_no_findings_no_complications():
    placement = needle((0, 0, 0), (0, 0, 50))
    assert evaluate_all(context(findings(placement))) == []
    assert only(evaluate_all(context()), "critical_breach") == []


@pytest.mark.parametrize("gap_mm,breach", [(0.3, False), (1.9, False), (2.5, True)])
def test_a_tumour_carved_out_of_its_liver_is_held_by_it(body, gap_mm, breach):
    """Label maps carve the tumour out of the liver: the path leaves the liver where it enters
    the tumour (two separately smoothed surfaces, so within a small gap)."""
    entry, target = (0.0, 100.0, 0.0), (0.0, 40.0, 0.0)
    trajectory = straight_trajectory(entry, target, [
        ("skin", 0.0, 60.0, False), ("liver", 20.0, 45.0, False),
        ("tumour", 45.0 + gap_mm, 60.0, False)])
    stub = findings(needle(entry, target), target_structure="tumour", trajectory=trajectory)
    found = _run("critical_breach", context(stub, twin=body))
    assert [c.structures for c in found] == ([("liver",)] if breach else [])
