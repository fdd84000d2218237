"""Tissue rules (incision, strain, ablation margin, liver remnant) on both sides of thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from surgiplan.errors import InputError
from surgiplan.plan.incision import IncisionPath
from surgiplan.risk.context import (
    AblationZone,
    IncisionFindings,
    ResectionFindings,
    StrainFindings,
    VesselDistance,
)
from surgiplan.risk.ellipsoid import signed_distance_inside
from surgiplan.risk.model import Severity
from surgiplan.risk.registry import evaluate_all, get_rule
from tests.risk.scenes import context, findings, needle, only, tissue_twin


def _run(rule_id: str, ctx):
    return get_rule(rule_id).evaluate(ctx)


# incision_over_vessel ---------------------------------------------------------------------


def _incision(distance_mm: float, vessel: str = "portal_vein", overrides=None):
    path = np.array([[0.0, 100.0, 0.0], [50.0, 100.0, 0.0]])
    cut = IncisionPath("inc-1", "skin", path, 50.0, 8.0, path, np.zeros(2), np.array([0, 1]))
    found = IncisionFindings(cut, {vessel: VesselDistance(distance_mm, (20.0, 90.0, 0.0))})
    return _run("incision_over_vessel", context(incisions={"inc-1": found}, overrides=overrides))


@pytest.mark.parametrize(("distance", "severity"), [
    (5.1, None), (4.9, Severity.WARNING), (0.1, Severity.WARNING), (0.0, Severity.CRITICAL),
    (-2.0, Severity.CRITICAL)])
def test_incision_within_5_mm_of_a_vessel_warns_and_reaching_it_is_critical(distance, severity):
    found = _incision(distance)
    assert [c.severity for c in found] == ([] if severity is None else [severity])


def test_incision_message_and_fields():
    [found] = _incision(3.2)
    assert found.message == ("The 8 mm deep incision comes within 3.2 mm of the portal vein "
                             "(minimum 5 mm): risk of haemorrhage")
    assert (found.item_id, found.structures, found.threshold) == ("inc-1", ("portal_vein",), 5.0)
    assert found.location_lps_mm == (20.0, 90.0, 0.0)
    [reached] = _incision(0.0)
    assert reached.message.startswith("The 8 mm deep incision reaches the portal vein")


@pytest.mark.parametrize(("distance", "flagged"), [(9.9, True), (10.1, False)])
def test_incision_per_structure_margin(distance, flagged):
    overrides = {"incision_over_vessel": {"per_structure": {"aorta": {"warning_mm": 10.0}}}}
    assert bool(_incision(distance, "aorta", overrides)) is flagged
    assert _incision(distance, "portal_vein", overrides) == []


def _incision_context(deformed_by: tuple[str, ...], distance_mm: float = 3.2):
    path = np.array([[0.0, 100.0, 0.0], [50.0, 100.0, 0.0]])
    cut = IncisionPath("inc-1", "liver", path, 50.0, 8.0, path, np.zeros(2), np.array([0, 1]))
    found = IncisionFindings(cut, {"portal_vein": VesselDistance(
        distance_mm, (20.0, 90.0, 0.0), deformed_by)})
    retractor = findings(needle((0, 0, 100), (0, 0, 80), item_id="retractor-1",
                                instrument_id="retractor"))
    return context(retractor, incisions={"inc-1": found})


def test_an_incision_measured_on_the_deformed_anatomy_says_so_once():
    rest = "The 8 mm deep incision comes within 3.2 mm of the portal vein (minimum 5 mm): "
    [at_rest] = only(evaluate_all(_incision_context(())), "incision_over_vessel")
    assert at_rest.message == rest + "risk of haemorrhage"
    [pushed] = only(evaluate_all(_incision_context(("retractor-1",))), "incision_over_vessel")
    assert pushed.message == (rest + "risk of haemorrhage, measured on the deformed anatomy "
                              "after retraction by retractor-1")
    ctx = _incision_context(("retractor-1",))
    assert ctx.deformed_by("inc-1", "portal_vein") == ("retractor-1",)
    assert ctx.deformed_by("inc-1", "aorta") == () and ctx.deformed_by("inc-2", "x") == ()
    # The rule itself leaves the note to the registry: it is written once.
    [raw] = _run("incision_over_vessel", ctx)
    assert "deformed" not in raw.message


# tissue_overstrain ------------------------------------------------------------------------


def _strain(value: float, tissue: str = "liver", structure: str = "liver", overrides=None):
    strain = StrainFindings(structure, tissue, value, (1.0, 2.0, 3.0))
    return _run("tissue_overstrain", context(strains=[strain], overrides=overrides))


@pytest.mark.parametrize("tissue", ["liver", "capsule", "vessel", "kidney"])
@pytest.mark.parametrize(("value", "severity"), [
    (0.19, None), (0.21, Severity.WARNING), (0.29, Severity.WARNING), (0.31, Severity.CRITICAL)])
def test_strain_warns_above_20_and_is_critical_above_30_percent(tissue, value, severity):
    found = _strain(value, tissue, structure=f"{tissue}_1")
    assert [c.severity for c in found] == ([] if severity is None else [severity])


def test_strain_message():
    [found] = _strain(0.31, "capsule", "liver_capsule")
    assert found.message == ("The liver capsule (capsule) is stretched to 31 % strain (limit "
                             "30 %): risk of tearing")
    assert (found.unit, found.threshold, found.structures) == ("strain", 0.3, ("liver_capsule",))


@pytest.mark.parametrize(("value", "flagged"), [(0.09, False), (0.11, True)])
def test_strain_per_tissue_and_per_structure_overrides(value, flagged):
    per_tissue = {"tissue_overstrain": {"per_tissue": {"vessel": {"warning_strain": 0.1}}}}
    assert bool(_strain(value, "vessel", "hepatic_artery", per_tissue)) is flagged
    per_structure = {"tissue_overstrain": {"per_structure": {"liver": {"warning_strain": 0.1}}}}
    assert bool(_strain(value, "liver", "liver", per_structure)) is flagged


# ablation_margin --------------------------------------------------------------------------


def _ablation(tumour_radius: float, zone: AblationZone, tumour_centre=(0.0, 0.0, 0.0)):
    twin = tissue_twin({"liver": ((0, 0, 0), 60.0, "liver", False),
                        "tumour": (tumour_centre, tumour_radius, "tumour", False)})
    probe = needle((0, 0, 100), (0, 0, 0), item_id="probe-1", instrument_id="ablation_probe")
    stub = findings(probe, target_structure="tumour", ablation_zone=zone)
    return _run("ablation_margin", context(stub, twin=twin))


SPHERE_ZONE = AblationZone((0.0, 0.0, 0.0), (20.0, 20.0, 20.0))


@pytest.mark.parametrize(("tumour_radius", "margin", "severity"), [
    (15.1, 4.9, Severity.CRITICAL), (14.9, 5.1, Severity.INFO), (10.1, 9.9, Severity.INFO),
    (9.9, 10.1, None)])
def test_ablation_margin_5_mm_critical_and_10_mm_info(tumour_radius, margin, severity):
    found = _ablation(tumour_radius, SPHERE_ZONE)
    assert [c.severity for c in found] == ([] if severity is None else [severity])
    if found:
        assert found[0].value == pytest.approx(margin, abs=1e-6)
        assert found[0].structures == ("tumour",) and found[0].item_id == "probe-1"


def test_ablation_margin_messages():
    [critical] = _ablation(15.1, SPHERE_ZONE)
    assert critical.message.startswith("Ablation margin around the tumour is 4.9 mm (must "
                                       "exceed 5 mm)")
    assert "strongest predictor of local tumour progression" in critical.message
    [outside] = _ablation(10.0, SPHERE_ZONE, tumour_centre=(0.0, 0.0, 13.0))
    assert outside.value == pytest.approx(-3.0, abs=1e-6)
    assert outside.message.startswith("The tumour extends 3 mm beyond the ablation zone")
    assert outside.location_lps_mm == pytest.approx((0.0, 0.0, 23.0), abs=1e-6)


@pytest.mark.parametrize(("tumour_radius", "severity"), [(15.1, Severity.CRITICAL),
                                                         (14.9, Severity.INFO)])
def test_ablation_margin_of_an_oriented_ellipsoid_is_set_by_its_short_axes(tumour_radius,
                                                                           severity):
    # 30 mm along the shaft (z), 20 mm across: the margin is 20 - r across the shaft.
    zone = AblationZone((0.0, 0.0, 0.0), (20.0, 20.0, 30.0),
                        ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)))
    [found] = _ablation(tumour_radius, zone)
    assert found.severity is severity
    assert found.value == pytest.approx(20.0 - tumour_radius, abs=1e-6)


def test_ablation_without_zone_or_tumour_reports_nothing():
    probe = needle((0, 0, 100), (0, 0, 0), instrument_id="ablation_probe")
    assert _run("ablation_margin", context(findings(probe, target_structure="tumour"))) == []
    stub = findings(probe, target_structure="missing", ablation_zone=SPHERE_ZONE)
    twin = tissue_twin({"liver": ((0, 0, 0), 60.0, "liver", False)})
    assert _run("ablation_margin", context(stub, twin=twin)) == []


def test_ellipsoid_distance_matches_dense_sampling():
    radii = np.array([30.0, 20.0, 12.0])
    u, v = np.meshgrid(np.linspace(0, np.pi, 700), np.linspace(0, 2 * np.pi, 1400))
    surface = np.stack([radii[0] * np.sin(u) * np.cos(v), radii[1] * np.sin(u) * np.sin(v),
                        radii[2] * np.cos(u)], axis=-1).reshape(-1, 3)
    points = np.random.default_rng(1).uniform(-35, 35, (300, 3))
    sampled = cKDTree(surface).query(points)[0]
    exact = signed_distance_inside(points, (0, 0, 0), radii)
    assert np.all(np.abs(exact) <= sampled + 1e-9)  # exact is never farther than a sample
    np.testing.assert_allclose(np.abs(exact), sampled, atol=5e-3)
    inside = (points / radii) ** 2
    np.testing.assert_array_equal(exact > 0, inside.sum(axis=1) < 1)
    assert signed_distance_inside([[0, 0, 0]], (0, 0, 0), radii)[0] == pytest.approx(12.0)


def test_ellipsoid_rejects_bad_radii():
    with pytest.raises(InputError, match="radii"):
        signed_distance_inside([[0, 0, 0]], (0, 0, 0), (1.0, 0.0, 1.0))


# resection_remnant ------------------------------------------------------------------------


def _remnant(remnant_ml, condition="normal", total=1000.0, twin=None):
    resection = ResectionFindings(remnant_ml, total, condition)
    return _run("resection_remnant", context(resection=resection, twin=twin))


@pytest.mark.parametrize(("condition", "minimum"), [("normal", 20.0), ("chemotherapy", 30.0),
                                                    ("cirrhosis", 40.0)])
@pytest.mark.parametrize(("offset", "severity"), [
    (-0.1, Severity.CRITICAL), (0.1, Severity.WARNING), (4.9, Severity.WARNING), (5.1, None)])
def test_remnant_minimum_by_condition(condition, minimum, offset, severity):
    found = _remnant(10.0 * (minimum + offset), condition)
    assert [c.severity for c in found] == ([] if severity is None else [severity])
    if found:
        assert found[0].value == pytest.approx(minimum + offset)
        assert found[0].threshold == (minimum if severity is Severity.CRITICAL else minimum + 5)


def test_remnant_message_and_total_from_the_twin():
    twin = tissue_twin({"liver": ((0, 0, 0), 50.0, "liver", False)})
    volume = twin.structures["liver"].properties.volume_ml
    [found] = _remnant(0.185 * volume, "normal", total=None, twin=twin)
    assert found.value == pytest.approx(18.5)
    assert found.message == ("Future liver remnant is 18.5 % of the liver (below the 20 % minimum "
                             "for a normal liver): risk of liver failure after resection; "
                             "consider portal vein embolisation")
    assert found.structures == ("liver",) and found.location_lps_mm is None
    assert _remnant(100.0, total=None) == []  # no total, no twin: nothing to say


def test_remnant_rejects_impossible_input():
    with pytest.raises(InputError, match="normal, chemotherapy, cirrhosis"):
        _remnant(300.0, "fatty")
    with pytest.raises(InputError, match="between 0 and the total"):
        _remnant(1200.0)
