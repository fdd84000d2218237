"""Recorded runs on the sample case: the plan followed passes, a vessel breach fails; replay,
JSON round trip and storage in the case file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.case.case_file import load_case, save_case
from surgiplan.plan.placement import pose_along
from surgiplan.rehearsal import (
    case_runs,
    export_runs,
    read_runs,
    record_run,
    run_from_json,
    run_to_json,
    store_in_case,
)
from surgiplan.rehearsal.run import UnknownInstrumentError
from surgiplan.rehearsal.script import RehearsalScript
from surgiplan.sample_case import sample_case_file
from surgiplan.simulation.check_cache import SimulationCache
from tests.rehearsal.scripts import following_plan, into_portal_vein


@pytest.fixture(scope="module")
def case():
    return load_case(sample_case_file())


@pytest.fixture(scope="module")
def cache():
    return SimulationCache()


@pytest.fixture(scope="module")
def good_run(case, cache):
    return record_run(case, following_plan(case), trainee="ana", cache=cache)


@pytest.fixture(scope="module")
def breach_run(case, cache):
    return record_run(case, into_portal_vein(case), trainee="ana", cache=cache)


def _safety(run) -> dict:
    return {m.name: m for m in run.safety}


def test_following_the_plan_passes_every_safety_metric(good_run) -> None:
    assert good_run.passed
    assert set(_safety(good_run)) == {"collisions", "critical_contacts", "tissue_damage",
                                      "excessive_force"}
    assert all(m.count == 0 for m in good_run.safety)
    assert good_run.metrics.tip_error_mm == pytest.approx(0.0, abs=1e-9)
    assert good_run.metrics.angular_deviation_deg == pytest.approx(0.0, abs=1e-6)
    assert good_run.metrics.economy_of_motion == pytest.approx(1.0)
    assert good_run.metrics.smoothness_ldlj == pytest.approx(-np.log(720.0), abs=1e-6)
    contacts = [e.structure for e in good_run.events if e.kind == "contact"]
    assert contacts == ["skin", "liver", "tumour"]  # in the order the needle meets them


def test_driving_into_the_portal_vein_fails_the_safety_metrics(breach_run) -> None:
    assert not breach_run.passed
    safety = _safety(breach_run)
    assert not safety["critical_contacts"].passed
    assert not safety["tissue_damage"].passed
    assert "portal_vein" in safety["critical_contacts"].detail
    breaches = [e for e in breach_run.events if e.complication is not None
                and e.complication.rule == "critical_breach"]
    assert [e.structure for e in breaches] == ["portal_vein"]
    assert breaches[0].complication.time_s == pytest.approx(breaches[0].time_s)
    assert breaches[0].complication.severity.label == "critical"
    assert breach_run.composite_score < 100.0


def test_contact_events_are_debounced(breach_run) -> None:
    contacts = [e.structure for e in breach_run.events if e.kind == "contact"]
    assert len(contacts) == len(set(contacts))  # each contact starts once while held


def test_plan_is_not_changed(case, good_run) -> None:
    placement = case.plan.instruments["needle-1"]
    assert good_run.planned_target_lps_mm == placement.target_lps_mm
    assert placement.insertion_depth_mm == pytest.approx(
        np.linalg.norm(np.subtract(placement.target_lps_mm, placement.entry_lps_mm)))


def test_replay_reproduces_recorded_poses_exactly(good_run, case) -> None:
    script = following_plan(case)
    for t, tip, axis in zip(script.times_s, script.tips_lps_mm, script.axes, strict=True):
        assert np.array_equal(good_run.pose_at(float(t)), pose_along(axis, tip))
    again = run_from_json(json.loads(json.dumps(run_to_json(good_run))))
    for t in good_run.times_s:
        assert np.array_equal(again.pose_at(float(t)), good_run.pose_at(float(t)))
    middle = 0.5 * (good_run.times_s[3] + good_run.times_s[4])
    tip = good_run.pose_at(middle)[:3, 3]
    assert np.allclose(tip, 0.5 * (good_run.tips_lps_mm[3] + good_run.tips_lps_mm[4]))
    assert np.array_equal(good_run.pose_at(-1.0), good_run.pose_at(0.0))


def test_json_lines_export_round_trip(good_run, breach_run, tmp_path) -> None:
    path = export_runs([good_run, breach_run], tmp_path / "runs.jsonl")
    assert len(path.read_text().splitlines()) == 2
    back = read_runs(path)
    assert [r.id for r in back] == [good_run.id, breach_run.id]
    assert back[1].passed is False and back[1].metrics == breach_run.metrics
    assert [e.to_json() for e in back[1].events] == [e.to_json() for e in breach_run.events]
    assert read_runs(export_runs([good_run], tmp_path / "runs.json"))[0].id == good_run.id


def test_runs_are_stored_in_the_case_file(case, good_run, tmp_path) -> None:
    store_in_case(case, good_run)
    try:
        path = save_case(case, tmp_path / "rehearsed.surgiplan")
    finally:
        case.rehearsals.pop()
    runs = case_runs(load_case(path))
    assert [r.id for r in runs] == [good_run.id]
    assert np.array_equal(runs[0].tips_lps_mm, good_run.tips_lps_mm)


def test_unknown_instrument_names_the_known_ones(case) -> None:
    script = RehearsalScript.from_arrays("needle-9", [0.0], [[0, 0, 0]], [[0, 0, 1]])
    with pytest.raises(UnknownInstrumentError, match="needle-1, needle-2"):
        record_run(case, script)


def test_the_planned_approach_script_follows_the_plan_to_the_target():
    import numpy as np
    import pytest

    from surgiplan.errors import InputError
    from surgiplan.plan.model import InstrumentPlacement
    from surgiplan.plan.placement import pose_along
    from surgiplan.rehearsal.script import planned_approach

    entry, target = np.array([0.0, 0.0, 0.0]), np.array([0.0, 30.0, 40.0])
    placement = InstrumentPlacement("needle-1", "biopsy_needle_18g",
                                    pose_along(target - entry, target), 50.0, entry, target)
    script = planned_approach(placement, before_mm=10.0, count=11)
    tips = np.asarray(script.tips_lps_mm)
    np.testing.assert_allclose(tips[0], entry - 10.0 * (target - entry) / 50.0)
    np.testing.assert_allclose(tips[-1], target)
    steps = np.linalg.norm(np.diff(tips, axis=0), axis=1)
    assert np.isclose(steps.sum(), 60.0)  # straight along the path, never backwards
    with pytest.raises(InputError, match="entry and a target"):
        planned_approach(InstrumentPlacement("free-1", "biopsy_needle_18g",
                                             pose_along((0, 0, 1), (0, 0, 0))))


def test_breach_worst_is_the_deepest_over_the_episode(case, cache, breach_run) -> None:
    """The needle advances into the vein until the end: the breach episode's worst value is
    the depth at the final pose, checked on its own, not the depth where the breach starts."""
    breach = next(e for e in breach_run.events if e.complication is not None
                  and e.complication.rule == "critical_breach")
    script = into_portal_vein(case)
    final = RehearsalScript.from_arrays("needle-2", [0.0], script.tips_lps_mm[-1:],
                                        script.axes[-1:])
    alone = next(e for e in record_run(case, final, cache=cache).events
                 if e.complication is not None and e.complication.rule == "critical_breach")
    assert breach.peak == pytest.approx(alone.value)
    assert breach.peak > breach.value + 1.0
    assert breach.peak_time_s == pytest.approx(script.times_s[-1])
    assert _safety(breach_run)["tissue_damage"].worst == pytest.approx(breach.peak)


def test_held_poses_reuse_the_state_and_change_no_event(case, cache, breach_run,
                                                        monkeypatch) -> None:
    """Each pose held for two more samples (10 ms apart): the same events at the same times,
    the same safety verdicts, and the plan simulated once per distinct pose."""
    import surgiplan.rehearsal.run as run_module

    script = into_portal_vein(case)
    times = np.concatenate([script.times_s[:, None] + [0.0, 0.01, 0.02]]).ravel()
    held = RehearsalScript.from_arrays("needle-2", times, np.repeat(script.tips_lps_mm, 3, 0),
                                       np.repeat(script.axes, 3, 0))
    calls = []
    simulate = run_module._sample_state
    monkeypatch.setattr(run_module, "_sample_state",
                        lambda *args: calls.append(args[3]) or simulate(*args))
    again = record_run(case, held, trainee="ana", cache=cache)
    assert len(calls) == len(script.times_s)
    assert [e.to_json() for e in again.events] == [e.to_json() for e in breach_run.events]
    assert [m.to_json() for m in again.safety] == [m.to_json() for m in breach_run.safety]
    assert again.metrics.path_length_mm == pytest.approx(breach_run.metrics.path_length_mm)
