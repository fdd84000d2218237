"""A check cache reused across plan changes gives the same answers as fresh checks, redoing
only the plan items it has not seen, and hands out the deformed surfaces for display."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from surgiplan.plan.catalogue import load_catalogue
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import check_case
from surgiplan.twin.builder import build_twin
from tests.simulation.test_deformed_clearance import INDENT_MM, _case, _labels


@pytest.fixture(scope="module")
def block():
    labels, regions, affine = _labels(carved=False)
    return build_twin(labels, regions=regions), affine


def _answers(result) -> list[tuple]:
    return [(c.rule, c.severity, c.item_id, round(c.value, 6)) for c in result.complications]


def test_a_reused_cache_answers_like_fresh_checks(block):
    catalogue = load_catalogue()
    cache = SimulationCache()
    fresh = {side: check_case(_case(block, side), catalogue=catalogue)
             for side in (None, -1.0)}
    for side in (None, -1.0, None, -1.0, -1.0):
        cached = check_case(_case(block, side), catalogue=catalogue, cache=cache)
        assert _answers(cached) == _answers(fresh[side])
    assert any(c.rule == "safety_margin" for c in fresh[-1.0].complications)
    # the needle (same placement every time) and the retractor were each simulated once
    assert len(cache.instruments) == 2 and len(cache.deformations) == 1


def test_deformed_surfaces_of_the_pushed_organ_and_the_carried_vessel(block):
    twin = block[0]
    rest = check_case(_case(block, None))
    assert rest.deformed_vertices_lps_mm == {}
    pushed = check_case(_case(block, -1.0))
    assert set(pushed.deformed_vertices_lps_mm) == {"liver", "vessel"}
    for name, vertices in pushed.deformed_vertices_lps_mm.items():
        moved = np.linalg.norm(vertices - twin.structure(name).surface.vertices_lps_mm, axis=1)
        assert 0.5 < moved.max() <= INDENT_MM + 0.5
    vessel = pushed.deformed_vertices_lps_mm["vessel"]
    rest_vessel = twin.structure("vessel").surface.vertices_lps_mm
    assert vessel[:, 1].mean() > rest_vessel[:, 1].mean()  # toward the needle (+y)


def test_a_changed_twin_clears_the_cache(block):
    twin = block[0]
    cache = SimulationCache()
    world = cache.world_for(twin)
    assert cache.world_for(twin) is world
    model = twin.structure("vessel")
    original = model.info
    try:
        model.info = dataclasses.replace(original, critical=False)
        assert cache.world_for(twin) is not world
    finally:
        model.info = original


def test_a_twin_without_structures_checks_clean():
    """A case just imported (no structures yet) with a needle placed: nothing to flag."""
    from surgiplan.case.structures import empty_case
    from surgiplan.imaging.volume import Volume
    from surgiplan.plan.model import InstrumentPlacement
    from surgiplan.plan.placement import pose_along

    case = empty_case(Volume(np.zeros((4, 5, 6), np.int16), np.eye(4), "CT"), "/scan")
    case.plan.instruments["needle-1"] = InstrumentPlacement(
        "needle-1", "biopsy_needle_18g", pose_along((0, 1, 0), (1, 2, 3)))
    result = check_case(case)
    assert result.complications == [] and result.context.instruments["needle-1"].clearances == {}
