"""Motion metrics of a rehearsal run, as defined in physics.md section 4.

A run is sampled as times ``t`` (n,) in s, tool-tip positions ``p`` (n, 3) in patient LPS mm
and shaft axes (n, 3) (handle -> tip, any non-zero length). The definitions:

- time T: from the first tool motion to the end of the run (task completion), s;
- path length L = sum |p[i+1] - p[i]|, mm;
- angular path: sum of the angles between consecutive shaft axes, deg;
- economy of motion: L itself (dV-Trainer convention) and EoM = L_ideal / L, where L_ideal is
  the sum of straight-line distances from the first tip position through the planned
  waypoints (<= 1 whenever the run visits the waypoints);
- smoothness: log dimensionless jerk LDLJ = -ln((T^5 / L^2) * integral |d3p/dt3|^2 dt), on
  the motion span interpolated by a quintic spline and integrated on a uniform grid;
  higher (closer to 0) is smoother;
- idle ratio: fraction of the recorded time with tip speed below 2 mm/s;
- final tip error: |p[-1] - planned target|, mm;
- angular deviation: angle between the final shaft axis and the planned one, deg.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.integrate import simpson
from scipy.interpolate import make_interp_spline

from surgiplan.errors import InputError

IDLE_SPEED_MM_S = 2.0
"""Tip speed below which the tool counts as idle (mm/s)."""
MOTION_EPS_MM = 1e-6
"""Smallest tip displacement (mm) or axis change (deg) between samples that counts as motion."""
JERK_GRID = 1025
"""Fewest uniform points of the jerk integral."""


class RunSamplesError(InputError):
    """Sampled times, tips or axes cannot be used as a run."""


@dataclass(frozen=True)
class MotionMetrics:
    """Motion metrics of one instrument's run (physics.md section 4).

    Attributes
    ----------
    time_s : float
        T, from the first tool motion to the end of the run (s); 0 when nothing moves.
    path_length_mm : float
        L, tip path length (mm).
    angular_path_deg : float
        Summed change of the shaft direction (deg).
    ideal_path_length_mm : float or None
        L_ideal through the planned waypoints (mm); ``None`` without waypoints.
    economy_of_motion : float or None
        L_ideal / L; ``None`` without waypoints or when the tip never moves.
    smoothness_ldlj : float or None
        Log dimensionless jerk (higher is smoother); ``None`` when T or L is 0.
    idle_ratio : float
        Fraction of the recorded time with tip speed below the idle speed, in [0, 1].
    tip_error_mm : float or None
        Final tip distance to the planned target (mm); ``None`` without a target.
    angular_deviation_deg : float or None
        Final shaft angle to the planned axis (deg); ``None`` without a planned axis.
    """

    time_s: float
    path_length_mm: float
    angular_path_deg: float
    ideal_path_length_mm: float | None
    economy_of_motion: float | None
    smoothness_ldlj: float | None
    idle_ratio: float
    tip_error_mm: float | None
    angular_deviation_deg: float | None

    def to_json(self) -> dict[str, Any]:
        """The metrics as a JSON object (``None`` for undefined values)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MotionMetrics:
        """The metrics back from :meth:`to_json`."""
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


def check_samples(times_s: Any, tips_lps_mm: Any, axes: Any) -> tuple[np.ndarray, ...]:
    """Validated float64 copies: times (n,), strictly increasing; tips (n, 3); unit axes (n, 3).

    Raises
    ------
    RunSamplesError
        On wrong shapes, non-finite values, times not increasing or zero-length axes.
    """
    t = np.asarray(times_s, dtype=np.float64)
    p = np.asarray(tips_lps_mm, dtype=np.float64)
    a = np.asarray(axes, dtype=np.float64)
    n = t.shape[0] if t.ndim == 1 else -1
    if n < 1 or p.shape != (n, 3) or a.shape != (n, 3):
        raise RunSamplesError(f"a run needs times (n,), tips (n, 3) and axes (n, 3); got "
                              f"{t.shape}, {p.shape}, {a.shape}: give one tip and axis per time")
    if not (np.isfinite(t).all() and np.isfinite(p).all() and np.isfinite(a).all()):
        raise RunSamplesError("run samples hold NaN or infinite values: give finite numbers")
    if n > 1 and np.any(np.diff(t) <= 0):
        raise RunSamplesError("sample times must increase strictly: sort the samples by time "
                              "and drop duplicates")
    norms = np.linalg.norm(a, axis=1)
    if np.any(norms < 1e-12):
        raise RunSamplesError("an axis has zero length: give the handle -> tip direction")
    return t, p, a / norms[:, None]


def _angles_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angles (deg) between unit rows of ``u`` and ``v`` (atan2 form, exact near 0)."""
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def _first_motion(steps_mm: np.ndarray, turns_deg: np.ndarray) -> int | None:
    """Index of the sample where the tool first moves (``None`` when it never does)."""
    moving = np.flatnonzero((steps_mm > MOTION_EPS_MM) | (turns_deg > MOTION_EPS_MM))
    return int(moving[0]) if moving.size else None


def ideal_path_length(start_lps_mm: np.ndarray, waypoints_lps_mm: Any) -> float:
    """Sum of straight distances from ``start`` (3,) through ``waypoints`` (m, 3), mm."""
    points = np.vstack([start_lps_mm[None], np.asarray(waypoints_lps_mm, dtype=float)
                        .reshape(-1, 3)])
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def log_dimensionless_jerk(times_s: np.ndarray, tips_lps_mm: np.ndarray) -> float | None:
    """LDLJ = -ln((T^5 / L^2) * integral |jerk|^2 dt) of one motion span.

    Parameters
    ----------
    times_s : (n,) float ndarray
        Increasing times (s), n >= 4.
    tips_lps_mm : (n, 3) float ndarray
        Tip positions (LPS mm).

    Returns
    -------
    float or None
        ``None`` when the span has no duration, no path or fewer than 4 samples. The path is
        interpolated with a quintic spline (cubic below 6 samples; it reproduces polynomial
        paths such as the minimum-jerk profile exactly), differentiated three times
        analytically and the jerk integrated on a uniform grid (Simpson's rule, at least
        JERK_GRID points and 8 per input interval).
    """
    duration = float(times_s[-1] - times_s[0]) if len(times_s) else 0.0
    length = float(np.linalg.norm(np.diff(tips_lps_mm, axis=0), axis=1).sum())
    if len(times_s) < 4 or duration <= 0 or length <= 0:
        return None
    spline = make_interp_spline(times_s, tips_lps_mm, k=5 if len(times_s) >= 6 else 3, axis=0)
    grid = np.linspace(times_s[0], times_s[-1], max(JERK_GRID, 8 * len(times_s)) | 1)
    jerk = spline.derivative(3)(grid)
    integral = float(simpson(np.sum(jerk**2, axis=1), x=grid))
    if integral <= 0:
        return None
    return -math.log(duration**5 / length**2 * integral)


def idle_ratio(times_s: np.ndarray, steps_mm: np.ndarray,
               idle_speed_mm_s: float = IDLE_SPEED_MM_S) -> float:
    """Fraction of the recorded time (t[-1] - t[0]) with tip speed below ``idle_speed_mm_s``.

    Speeds are taken per sample interval (step mm / interval s); 0 for a single sample.
    """
    intervals = np.diff(times_s)
    total = float(intervals.sum())
    if total <= 0:
        return 0.0
    idle = intervals[steps_mm / intervals < idle_speed_mm_s].sum()
    return float(idle / total)


def motion_metrics(times_s: Any, tips_lps_mm: Any, axes: Any, *,
                   planned_waypoints_lps_mm: Any = None, planned_target_lps_mm: Any = None,
                   planned_axis: Any = None,
                   idle_speed_mm_s: float = IDLE_SPEED_MM_S) -> MotionMetrics:
    """Every motion metric of one sampled run (see the module docstring).

    Parameters
    ----------
    times_s : (n,) float array
        Sample times (s), strictly increasing.
    tips_lps_mm : (n, 3) float array
        Tool-tip positions, patient LPS mm.
    axes : (n, 3) float array
        Shaft directions, handle -> tip (normalised here).
    planned_waypoints_lps_mm : (m, 3) float array, optional
        Task waypoints of the planned path in order (e.g. skin entry, target), LPS mm.
    planned_target_lps_mm : (3,) float array, optional
        Planned tip target, LPS mm.
    planned_axis : (3,) float array, optional
        Planned shaft direction, handle -> tip.
    idle_speed_mm_s : float
        Idle speed threshold (mm/s).

    Returns
    -------
    MotionMetrics

    Raises
    ------
    RunSamplesError
        On malformed samples.
    """
    t, p, a = check_samples(times_s, tips_lps_mm, axes)
    steps = np.linalg.norm(np.diff(p, axis=0), axis=1)
    turns = _angles_deg(a[:-1], a[1:])
    length = float(steps.sum())
    start = _first_motion(steps, turns)
    ideal = None if planned_waypoints_lps_mm is None else ideal_path_length(
        p[0], planned_waypoints_lps_mm)
    return MotionMetrics(
        time_s=0.0 if start is None else float(t[-1] - t[start]),
        path_length_mm=length,
        angular_path_deg=float(turns.sum()),
        ideal_path_length_mm=ideal,
        economy_of_motion=None if ideal is None or length <= 0 else ideal / length,
        smoothness_ldlj=None if start is None else log_dimensionless_jerk(t[start:], p[start:]),
        idle_ratio=idle_ratio(t, steps, idle_speed_mm_s),
        tip_error_mm=None if planned_target_lps_mm is None else float(
            np.linalg.norm(p[-1] - np.asarray(planned_target_lps_mm, dtype=float))),
        angular_deviation_deg=None if planned_axis is None else _axis_deviation(
            a[-1], planned_axis),
    )


def _axis_deviation(axis: np.ndarray, planned_axis: Any) -> float:
    planned = np.asarray(planned_axis, dtype=float)
    norm = np.linalg.norm(planned)
    if planned.shape != (3,) or not np.isfinite(norm) or norm < 1e-12:
        raise RunSamplesError("the planned axis must be 3 finite numbers, not all zero")
    return float(_angles_deg(axis[None], (planned / norm)[None])[0])
