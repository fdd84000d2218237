"""Motion metrics on synthetic paths with analytic values (physics.md section 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surgiplan.rehearsal.metrics import RunSamplesError, motion_metrics


def _min_jerk(times_s: np.ndarray, duration_s: float) -> np.ndarray:
    s = times_s / duration_s
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def test_straight_line_at_constant_speed() -> None:
    t = np.linspace(0.0, 4.0, 41)
    tips = np.column_stack([10.0 * t, np.zeros_like(t), np.zeros_like(t)])  # 10 mm/s along L
    axes = np.tile([1.0, 0.0, 0.0], (41, 1))
    m = motion_metrics(t, tips, axes, planned_waypoints_lps_mm=[[40.0, 0, 0]],
                       planned_target_lps_mm=[40.0, 3.0, 4.0], planned_axis=[0.0, 1.0, 0.0])
    assert m.time_s == pytest.approx(4.0)
    assert m.path_length_mm == pytest.approx(40.0)
    assert m.angular_path_deg == pytest.approx(0.0)
    assert m.ideal_path_length_mm == pytest.approx(40.0)
    assert m.economy_of_motion == pytest.approx(1.0)
    assert m.idle_ratio == pytest.approx(0.0)
    assert m.tip_error_mm == pytest.approx(5.0)
    assert m.angular_deviation_deg == pytest.approx(90.0)


def test_zig_zag_path_and_axis() -> None:
    # 4 legs of a 3-4-5 triangle zig-zag: each leg 5 mm, net advance 12 mm along L
    tips = np.array([[0, 0, 0], [3, 4, 0], [6, 0, 0], [9, 4, 0], [12, 0, 0]], dtype=float)
    t = np.arange(5, dtype=float)
    # axis alternates between +S and 30 deg off it: 4 turns of 30 deg
    tilt = np.array([0.0, math.sin(math.radians(30)), math.cos(math.radians(30))])
    axes = np.array([[0, 0, 1], tilt, [0, 0, 1], tilt, [0, 0, 1]], dtype=float)
    m = motion_metrics(t, tips, axes, planned_waypoints_lps_mm=[[12.0, 0, 0]],
                       planned_target_lps_mm=[12.0, 0, 0], planned_axis=[0, 0, 1])
    assert m.path_length_mm == pytest.approx(20.0)
    assert m.angular_path_deg == pytest.approx(120.0)
    assert m.economy_of_motion == pytest.approx(12.0 / 20.0)
    assert m.tip_error_mm == pytest.approx(0.0)
    assert m.angular_deviation_deg == pytest.approx(0.0, abs=1e-9)
    assert m.idle_ratio == pytest.approx(0.0)  # 5 mm/s on every leg


def test_circle_with_tangent_axis() -> None:
    n, radius, period = 360, 20.0, 3.0
    t = np.linspace(0.0, period, n + 1)
    angle = 2 * math.pi * t / period
    tips = radius * np.column_stack([np.cos(angle), np.sin(angle), np.zeros_like(t)])
    axes = np.column_stack([-np.sin(angle), np.cos(angle), np.zeros_like(t)])
    m = motion_metrics(t, tips, axes)
    assert m.path_length_mm == pytest.approx(2 * n * radius * math.sin(math.pi / n))  # polygon
    assert m.path_length_mm == pytest.approx(2 * math.pi * radius, rel=1e-4)
    assert m.angular_path_deg == pytest.approx(360.0)
    # constant angular speed w: T^5/L^2 * (R w^3)^2 T = (wT)^4 = (2 pi)^4
    assert m.smoothness_ldlj == pytest.approx(-4 * math.log(2 * math.pi), abs=1e-3)
    assert m.economy_of_motion is None and m.tip_error_mm is None


@pytest.mark.parametrize("count", [31, 200])
def test_minimum_jerk_profile_has_known_ldlj(count: int) -> None:
    # x = A (10 s^3 - 15 s^4 + 6 s^5): integral of jerk^2 = 720 A^2 / T^5, so DLJ = 720
    duration = 2.0
    t = np.linspace(0.0, duration, count)
    tips = np.outer(_min_jerk(t, duration), [30.0, -40.0, 0.0])
    axes = np.tile([0.6, -0.8, 0.0], (count, 1))
    m = motion_metrics(t, tips, axes)
    assert m.path_length_mm == pytest.approx(50.0)
    assert m.smoothness_ldlj == pytest.approx(-math.log(720.0), abs=1e-6)


def test_minimum_jerk_on_irregular_samples() -> None:
    rng = np.random.default_rng(7)
    t = np.sort(np.r_[0.0, rng.uniform(0.0, 2.0, 60), 2.0])
    tips = np.outer(_min_jerk(t, 2.0), [0.0, 0.0, 50.0])
    m = motion_metrics(t, tips, np.tile([0, 0, 1.0], (len(t), 1)))
    assert m.smoothness_ldlj == pytest.approx(-math.log(720.0), abs=1e-4)


def test_jerky_path_is_less_smooth() -> None:
    t = np.linspace(0.0, 2.0, 101)
    smooth = np.outer(_min_jerk(t, 2.0), [50.0, 0, 0])
    wobbly = smooth + np.outer(np.sin(2 * math.pi * 5 * t), [0, 1.0, 0])
    axes = np.tile([1.0, 0, 0], (101, 1))
    assert (motion_metrics(t, wobbly, axes).smoothness_ldlj
            < motion_metrics(t, smooth, axes).smoothness_ldlj)


def test_time_starts_at_first_motion_and_idle_ratio_counts_pauses() -> None:
    # still for 1 s, 10 mm in 1 s, paused 1 s (1 mm/s < 2 mm/s), 10 mm in 1 s
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    tips = np.array([[0, 0, 0], [0, 0, 0], [10, 0, 0], [11, 0, 0], [21, 0, 0]], dtype=float)
    m = motion_metrics(t, tips, np.tile([1.0, 0, 0], (5, 1)))
    assert m.time_s == pytest.approx(3.0)
    assert m.idle_ratio == pytest.approx(2.0 / 4.0)


def test_still_run_has_no_time_or_smoothness() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0])
    m = motion_metrics(t, np.zeros((4, 3)), np.tile([1.0, 0, 0], (4, 1)))
    assert m.time_s == 0.0 and m.path_length_mm == 0.0
    assert m.smoothness_ldlj is None and m.idle_ratio == pytest.approx(1.0)


@pytest.mark.parametrize("times, tips, axes, words", [
    ([0.0, 1.0], np.zeros((3, 3)), np.ones((2, 3)), "one tip and axis per time"),
    ([0.0, 0.0], np.zeros((2, 3)), np.ones((2, 3)), "increase strictly"),
    ([0.0, 1.0], np.zeros((2, 3)), [[1, 0, 0], [0, 0, 0]], "zero length"),
    ([0.0, np.nan], np.zeros((2, 3)), np.ones((2, 3)), "finite"),
])
def test_bad_samples_name_the_problem(times, tips, axes, words) -> None:
    with pytest.raises(RunSamplesError, match=words):
        motion_metrics(times, tips, axes)
