"""Interactive rehearsal core: the fixed-rate pose sampler (driven by a fake clock), the start
pose, and episode peaks (worst value over every sample of an episode)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.plan.placement import pose_along
from surgiplan.rehearsal.live import PoseSampler, ToolPose, start_pose
from surgiplan.rehearsal.run import EpisodeLog
from surgiplan.rehearsal.safety import RunEvent, SampleState, safety_metrics
from surgiplan.risk import Complication, Severity


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _pose(x: float) -> ToolPose:
    return ToolPose.of([x, 0.0, 0.0], [1.0, 0.0, 0.0])


def test_sampler_records_the_pose_in_effect_at_each_grid_time() -> None:
    clock = FakeClock()
    sampler = PoseSampler(rate_hz=10.0, clock=clock)
    sampler.start(_pose(0.0))
    clock.now += 0.05
    sampler.move(_pose(1.0))  # at 0.05 s: in effect for the samples at 0.1 s on
    clock.now += 0.1
    sampler.move(_pose(2.0))  # at 0.15 s
    clock.now += 0.2  # 0.35 s: one late tick records 0.1, 0.2 and 0.3 s
    assert sampler.tick() == 3
    np.testing.assert_allclose(sampler.times_s, [0.0, 0.1, 0.2, 0.3])
    np.testing.assert_array_equal(sampler.tips_lps_mm[:, 0], [0.0, 1.0, 2.0, 2.0])
    assert sampler.tick() == 0  # nothing new is due
    clock.now += 0.02  # 0.37 s
    sampler.move(_pose(5.0))
    assert sampler.finish() == 1  # the last move is sampled at the next grid time
    np.testing.assert_allclose(sampler.times_s, [0.0, 0.1, 0.2, 0.3, 0.4])
    assert sampler.tips_lps_mm[-1, 0] == 5.0
    assert sampler.path_length_mm == pytest.approx(5.0)
    script = sampler.to_script("needle-1")
    assert script.instrument == "needle-1"
    np.testing.assert_array_equal(script.tips_lps_mm, sampler.tips_lps_mm)
    np.testing.assert_array_equal(script.axes, np.tile([1.0, 0.0, 0.0], (5, 1)))


def test_sampler_ticks_do_not_change_the_samples() -> None:
    """The same moves give the same samples whether ticked every frame or once at the end."""
    moves = [(0.013, 1.0), (0.21, 2.0), (0.5, 4.0), (0.52, 3.0)]
    results = []
    for tick_every in (0.001, None):
        clock = FakeClock(5.0)
        sampler = PoseSampler(rate_hz=30.0, clock=clock)
        sampler.start(_pose(0.0))
        for at, x in moves:
            while tick_every is not None and clock.now + tick_every < 5.0 + at:
                clock.now += tick_every
                sampler.tick()
            clock.now = 5.0 + at
            sampler.move(_pose(x))
        clock.now = 5.0 + 0.7
        sampler.finish()
        results.append((sampler.times_s, sampler.tips_lps_mm))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert len(results[0][0]) == 22  # 0 .. 21 / 30 s
    np.testing.assert_allclose(np.diff(results[0][0]), 1.0 / 30.0)


def test_sampler_needs_a_start_and_a_rate() -> None:
    with pytest.raises(InputError, match="start"):
        PoseSampler().tick()
    with pytest.raises(InputError, match="rate"):
        PoseSampler(rate_hz=0.0)


def test_start_pose_is_outside_the_planned_entry_on_the_path() -> None:
    entry, target = np.array([10.0, 0.0, 0.0]), np.array([10.0, 30.0, 40.0])
    placement = InstrumentPlacement("needle-1", "biopsy_needle_18g",
                                    pose_along(target - entry, target), 50.0, entry, target)
    pose = start_pose(placement, back_mm=10.0)
    np.testing.assert_allclose(pose.axis, [0.0, 0.6, 0.8])
    np.testing.assert_allclose(pose.tip_lps_mm, [10.0, -6.0, -8.0])
    free = InstrumentPlacement("free-1", "biopsy_needle_18g", pose_along((0, 0, 1), (0, 0, 30)),
                               20.0)
    np.testing.assert_allclose(start_pose(free, back_mm=5.0).tip_lps_mm, [0.0, 0.0, 5.0])
    with pytest.raises(InputError, match="outside"):
        start_pose(placement, back_mm=0.0)


def _breach(depth: float) -> Complication:
    return Complication("critical_breach", Severity.CRITICAL, ("portal_vein",), None, depth,
                        0.5, "mm", f"enters the portal vein ({depth} mm)", "needle-1")


def test_episode_peak_is_the_worst_value_over_the_episode() -> None:
    log = EpisodeLog()
    depths = [0.6, 1.5, 3.0, 2.0]  # the breach deepens, then eases while still inside
    for i, depth in enumerate(depths):
        log.add(0.1 * i, SampleState({"portal_vein": depth}, [_breach(depth)]))
    log.add(0.4, SampleState({}, []))
    log.add(0.7, SampleState({"portal_vein": 1.0}, [_breach(1.0)]))  # a second episode
    events = log.finished()
    assert [(e.kind, e.time_s) for e in events] == [
        ("contact", 0.0), ("complication", 0.0), ("contact", 0.7), ("complication", 0.7)]
    assert [e.value for e in events] == [0.6, 0.6, 1.0, 1.0]  # where each episode starts
    assert [e.peak for e in events] == [3.0, 3.0, 1.0, 1.0]
    assert events[0].peak_time_s == pytest.approx(0.2)
    metrics = {m.name: m for m in safety_metrics(events, critical={"portal_vein"}, rigid=set())}
    assert metrics["tissue_damage"].count == 2 and metrics["tissue_damage"].worst == 3.0
    assert metrics["critical_contacts"].worst == 3.0


def test_a_gap_peaks_at_its_smallest() -> None:
    log = EpisodeLog()
    for i, gap in enumerate([4.0, 1.0, 2.5]):
        clash = Complication("instrument_clash", Severity.WARNING, (), None, gap, 5.0, "mm",
                             "clash", "needle-1")
        log.add(0.1 * i, SampleState({}, [clash]))
    assert log.finished()[0].peak == 1.0


@pytest.mark.parametrize("gap_mm, worst_mm", [(-2.0, 2.0), (-0.5, 1.2), (0.0, 1.2)])
def test_collisions_compare_depths_with_instrument_overlaps_not_gaps(gap_mm, worst_mm) -> None:
    """Bone contact 1.2 mm deep and two instruments touching (gap <= 0): the collisions
    metric's worst value is the deeper of the contact and the overlap -gap."""
    clash = Complication("instrument_clash", Severity.CRITICAL, (), None, gap_mm, 0.0, "mm",
                         "the instruments touch", "needle-1")
    events = [RunEvent(0.0, "contact", "rib", "contact with rib starts", 1.2),
              RunEvent(0.5, "complication", None, clash.message, gap_mm, clash)]
    metrics = {m.name: m for m in safety_metrics(events, critical=set(), rigid={"rib"})}
    assert metrics["collisions"].count == 2 and not metrics["collisions"].passed
    assert metrics["collisions"].worst == pytest.approx(worst_mm)


def test_events_of_older_runs_load_without_a_peak() -> None:
    event = RunEvent(1.0, "contact", "liver", "contact with liver starts", 2.0)
    data = event.to_json()
    del data["peak"], data["peak_time_s"]
    back = RunEvent.from_json(data)
    assert back.peak is None and back.worst == 2.0
    assert RunEvent.from_json(RunEvent(1.0, "contact", "liver", "x", 2.0, None, 4.0,
                                       1.5).to_json()).worst == 4.0
    metrics = safety_metrics([back], critical={"liver"}, rigid=set())
    assert metrics[1].worst == 2.0


def test_storing_a_run_is_one_undo_step() -> None:
    from types import SimpleNamespace

    from surgiplan.plan.commands import UndoStack
    from surgiplan.plan.model import Plan
    from surgiplan.rehearsal.codec import StoreRun, case_runs
    from tests.rehearsal.test_history import _run

    case, stack = SimpleNamespace(rehearsals=[]), UndoStack(Plan())
    stack.push(StoreRun(case, _run("r1", "ana")))
    assert [r.id for r in case_runs(case)] == ["r1"] and not stack.is_clean
    stack.undo()
    assert case.rehearsals == [] and stack.is_clean
