"""Replay of recorded runs: exact poses at sample times, interpolation between them, the tissue
a retractor pushes shown at the time it pushes, and the planned path beside the performed one.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.case_file import load_case
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.placement import pose_along
from surgiplan.rehearsal import record_run, run_from_json, run_to_json
from surgiplan.rehearsal.metrics import motion_metrics
from surgiplan.rehearsal.replay import Replayer, compare_paths, planned_placement
from surgiplan.rehearsal.run import RehearsalRun, placement_at
from surgiplan.rehearsal.script import RehearsalScript, planned_approach
from surgiplan.sample_case import sample_case_file
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.twin.builder import build_twin
from tests.simulation.test_deformed_clearance import _case, _labels


@pytest.fixture(scope="module")
def case():
    return load_case(sample_case_file())


@pytest.fixture(scope="module")
def cache():
    return SimulationCache()


@pytest.fixture(scope="module")
def needle_run(case, cache):
    script = planned_approach(case.plan.instruments["needle-1"], count=11)
    return record_run(case, script, trainee="ana", cache=cache)


def test_replay_at_every_sample_time_gives_the_recorded_pose_exactly(case, cache,
                                                                      needle_run) -> None:
    stored = run_from_json(run_to_json(needle_run))  # as read back from a case or history
    replayer = Replayer(case, stored, cache=cache)
    planned = case.plan.instruments["needle-1"]
    for i, t in enumerate(stored.times_s):
        frame = replayer.frame(t)
        assert frame.time_s == t
        assert np.array_equal(frame.pose, pose_along(needle_run.axes[i], needle_run.tips_lps_mm[i]))
        assert np.array_equal(frame.tip_lps_mm, needle_run.tips_lps_mm[i])
        assert frame.placement == placement_at(planned, needle_run.tips_lps_mm[i],
                                               needle_run.axes[i])
        assert np.array_equal(frame.performed_lps_mm, needle_run.tips_lps_mm[:i + 1])
        assert frame.events == [e for e in needle_run.events if e.time_s <= t]
        assert frame.deformed_vertices_lps_mm == {}  # a needle pushes nothing


def test_a_frame_between_samples_interpolates(case, cache, needle_run) -> None:
    replayer = Replayer(case, needle_run, cache=cache)
    t, tips = needle_run.times_s, needle_run.tips_lps_mm
    middle = (t[4] + t[5]) / 2
    frame = replayer.frame(middle)
    np.testing.assert_allclose(frame.tip_lps_mm, (tips[4] + tips[5]) / 2, atol=1e-9)
    np.testing.assert_allclose(frame.pose[:3, 2], needle_run.axes[4], atol=1e-12)
    assert len(frame.performed_lps_mm) == 6
    np.testing.assert_allclose(frame.performed_lps_mm[-1], frame.tip_lps_mm)
    assert replayer.frame(-5.0).time_s == t[0]  # clamped to the recorded span
    assert np.array_equal(replayer.frame(t[-1] + 9).tip_lps_mm, tips[-1])


def test_a_run_of_a_removed_placement_still_replays(case, needle_run) -> None:
    plan = Plan(instruments={k: v for k, v in case.plan.instruments.items()
                             if k != "needle-1"})
    from dataclasses import replace

    rebuilt = planned_placement(replace(case, plan=plan), needle_run)
    assert rebuilt.instrument == "biopsy_needle_18g"
    assert rebuilt.target_lps_mm == pytest.approx(needle_run.planned_target_lps_mm)


@pytest.fixture(scope="module")
def retractor_run():
    """A retractor blade (25 mm wide, face along +y) advancing onto the -y face (y = -20 mm)
    of a 64 x 40 x 40 mm liver block (its surface reaches y = -20.5): blade face at y = -29,
    -26, -23 (no contact), then -18 and -17 (2 and 3 mm into the block)."""
    labels, regions, _affine = _labels(carved=False)
    block = (build_twin(labels, regions=regions), _affine)
    case = _case(block, None)  # the needle only; the retractor is added planned at rest
    axis = np.array([0.0, 0.0, 1.0])  # frame_along: x = +L (blade width), y = +P (push)
    tips = np.array([[0.0, y - 1.0, 40.0] for y in (-29.0, -26.0, -23.0, -18.0, -17.0)])
    case.plan.instruments["retractor-1"] = InstrumentPlacement(
        "retractor-1", "retractor", pose_along(axis, tips[-1]))
    script = RehearsalScript.from_arrays("retractor-1", [0.0, 0.5, 1.0, 1.5, 2.0], tips,
                                         np.tile(axis, (5, 1)))
    cache = SimulationCache()
    return case, record_run(case, script, cache=cache), cache


def test_a_pushed_organ_deforms_at_the_time_it_is_pushed_and_not_before(retractor_run) -> None:
    case, run, cache = retractor_run
    replayer = Replayer(case, run, cache=cache)
    for t in (0.0, 0.5, 1.0):
        assert replayer.frame(t).deformed_vertices_lps_mm == {}
    pushed = replayer.frame(2.0).deformed_vertices_lps_mm
    assert "liver" in pushed
    rest = case.twin.structure("liver").surface.vertices_lps_mm
    moved = np.linalg.norm(pushed["liver"] - rest, axis=1)
    assert 1.0 < moved.max() <= 3.5  # 3 mm indentation
    # the indented side moves along the push (+y), much more than the far side
    front, far = rest[:, 1] < -19.0, rest[:, 1] > 19.0
    assert (pushed["liver"][front, 1] - rest[front, 1]).max() > 1.0
    assert moved[front].mean() > 2 * moved[far].mean()
    assert any(e.kind == "deformation_peak" for e in replayer.frame(2.0).events)


def _line_run(tips) -> RehearsalRun:
    tips = np.asarray(tips, dtype=float)
    t = np.arange(len(tips), dtype=float)
    axes = np.tile([1.0, 0, 0], (len(tips), 1))
    return RehearsalRun("r", "needle-1", "biopsy_needle_18g", "ana", "2024-01-01T00:00:00", t,
                        tips, axes, (0.0, 0.0, 0.0), (10.0, 0.0, 0.0),
                        motion_metrics(t, tips, axes, planned_target_lps_mm=[10.0, 0, 0]))


def test_planned_beside_performed_distances() -> None:
    run = _line_run([[-5, 0, 0], [5, 3, 0], [10, 0, 0], [13, 0, 0], [12, 4, 0]])
    comparison = compare_paths(run)
    np.testing.assert_array_equal(comparison.planned_lps_mm, [[0, 0, 0], [10, 0, 0]])
    np.testing.assert_array_equal(comparison.performed_lps_mm, run.tips_lps_mm)
    # before the entry on the approach: on plan; lateral 3 mm; past the target: off plan
    np.testing.assert_allclose(comparison.distance_to_plan_mm, [0.0, 3.0, 0.0, 3.0, 2 * 5**0.5])
    assert comparison.max_distance_mm == pytest.approx(2 * 5**0.5)


def test_planned_by_pose_only_compares_with_the_shaft_line() -> None:
    run = _line_run([[0, 0, -20], [0, 1, -10], [0, 0, 0]])
    run.planned_entry_lps_mm = run.planned_target_lps_mm = None
    planned = InstrumentPlacement("retractor-1", "retractor", pose_along((0, 0, 1), (0, 0, 0)))
    comparison = compare_paths(run, planned)
    np.testing.assert_allclose(comparison.planned_lps_mm, [[0, 0, -20], [0, 0, 0]])
    np.testing.assert_allclose(comparison.distance_to_plan_mm, [0.0, 1.0, 0.0])
