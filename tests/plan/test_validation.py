"""Placement validation: one clear message per problem."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.plan.placement import place_along_path
from surgiplan.plan.validation import PROBLEM_CODES, VolumeBounds, validate_placement
from tests.plan.twins import sphere_twin


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def body():
    """Skin r=100 at the origin on a grid spanning -122.5 .. 122.5 mm."""
    return sphere_twin({"skin": ((0, 0, 0), 100.0), "liver": ((0, 20, 0), 50.0)})


def _codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_good_placement_has_no_problems(catalogue, body):
    placement = place_along_path("needle-1", catalogue["biopsy_needle_18g"], (0, 100, 0),
                                 (0, 20, 0))
    assert validate_placement(placement, catalogue["biopsy_needle_18g"], body) == []
    assert validate_placement(placement, catalogue, body) == []


def test_entry_off_the_skin(catalogue, body):
    placement = place_along_path("needle-1", catalogue["biopsy_needle_18g"], (0, 112.4, 0),
                                 (0, 20, 0))
    problems = validate_placement(placement, catalogue, body)
    assert _codes(problems) == ["entry_not_on_skin"]
    assert problems[0].item_id == "needle-1"
    assert problems[0].message == ("Entry point is 12.4 mm from the skin surface: pick the entry "
                                   "on the skin")
    assert validate_placement(placement, catalogue, body, tolerance_mm=15.0) == []


def test_entry_inside_the_body_is_also_off_the_skin(catalogue, body):
    placement = place_along_path("n", catalogue["biopsy_needle_18g"], (0, 90, 0), (0, 20, 0))
    problems = validate_placement(placement, catalogue, body)
    assert problems[0].message.startswith("Entry point is 10 mm from the skin surface")


def test_target_outside_the_scanned_volume(catalogue, body):
    placement = place_along_path("needle-2", catalogue["ablation_probe"], (0, 0, 100),
                                 (0, 0, 150))
    problems = validate_placement(placement, catalogue, body)
    assert _codes(problems) == ["target_outside_volume"]
    assert problems[0].message == ("Target point is 27.5 mm outside the scanned volume: pick a "
                                   "target inside the scan")


def test_instrument_too_short(catalogue, body):
    placement = place_along_path("needle-3", catalogue["biopsy_needle_18g"], (0, 100, 0),
                                 (0, -72, 0))
    problems = validate_placement(placement, catalogue, body)
    assert _codes(problems) == ["too_short"]
    assert problems[0].message == ("The 18G biopsy needle reaches 150 mm; this path needs 172 mm: "
                                   "choose a longer instrument or a closer entry")


def test_unknown_instrument(catalogue, body):
    placement = InstrumentPlacement("laser-1", "laser", np.eye(4), 10.0)
    problems = validate_placement(placement, catalogue, body)
    assert _codes(problems) == ["unknown_instrument"]
    assert problems[0].message.startswith("Instrument 'laser' is not in the catalogue (known: ")
    assert _codes(validate_placement(placement, None, body)) == ["unknown_instrument"]


def test_several_problems_are_reported_together(catalogue, body):
    placement = place_along_path("p", catalogue["biopsy_needle_14g"], (0, 0, 118), (0, 0, -130))
    assert _codes(validate_placement(placement, catalogue, body)) == [
        "entry_not_on_skin", "target_outside_volume", "too_short"]


def test_port_of_a_free_laparoscopic_placement_is_checked(catalogue, body):
    pose = np.eye(4)
    pose[:3, 3] = (0, 0, -60)  # shaft toward +z (superior); port 20 mm behind, inside the skin
    placement = InstrumentPlacement("g", "grasper_5mm", pose, 20.0, pivot_lps_mm=(0, 0, -80))
    problems = validate_placement(placement, catalogue, body)
    assert problems[0].message == ("Port is 20 mm from the skin surface: pick the entry on the "
                                   "skin")


def test_twin_without_skin(catalogue):
    twin = sphere_twin({"liver": ((0, 0, 0), 50.0)})
    placement = place_along_path("n", catalogue["drill"], (0, 0, 60), (0, 0, 0))
    problems = validate_placement(placement, catalogue, twin)
    assert _codes(problems) == ["no_skin_surface"]
    assert "'skin'" in problems[0].message
    assert set(_codes(problems)) <= set(PROBLEM_CODES)


def test_volume_bounds_from_a_volume(catalogue, body):
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    volume = Volume(np.zeros((10, 10, 10), dtype=np.int16), affine, "CT")  # -1 .. 19 mm
    bounds = VolumeBounds.of(volume)
    np.testing.assert_allclose(bounds.distance_outside_mm([(5, 5, 5), (22, 5, 5), (-4, -5, 5)]),
                               [0.0, 3.0, 5.0])
    placement = place_along_path("n", catalogue["biopsy_needle_18g"], (0, 100, 0), (0, 20, 0))
    problems = validate_placement(placement, catalogue, body, volume=volume)
    assert _codes(problems) == ["target_outside_volume"]


def test_mismatched_instrument_is_a_caller_error(catalogue, body):
    placement = place_along_path("n", catalogue["drill"], (0, 100, 0), (0, 20, 0))
    with pytest.raises(InputError, match="holds 'drill'"):
        validate_placement(placement, catalogue["scalpel"], body)


def test_inside_target_with_a_fractional_affine_is_not_outside_by_round_off():
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    affine[:3, 3] = (-191.25, -191.25, -96.0)
    bounds = VolumeBounds(affine, (64, 256, 256))
    twin = sphere_twin({"skin": ((0.0, 0.0, 0.0), 100.0)})
    for target in ([-82.0, -32.0, 18.0], [-115.615, -79.437, 17.273]):
        placement = place_along_path("n", load_catalogue().get("biopsy_needle_18g"),
                                     [-120.0, -32.0, 18.0], target)
        codes = {p.code for p in validate_placement(placement, load_catalogue(), twin,
                                                    volume=bounds)}
        assert "target_outside_volume" not in codes
