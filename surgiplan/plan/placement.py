"""Make instrument placements: along an entry -> target path, from a free pose, or pivoted.

A placement's pose maps the instrument's tip frame to LPS mm (column 2 = shaft axis pointing
handle -> tip, column 3 = tip position; see :mod:`surgiplan.plan.catalogue`). The roll about
the shaft is chosen deterministically: the instrument's x axis is the direction closest to
patient left (+L) perpendicular to the shaft (patient posterior when the shaft runs along L-R).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Instrument, rigid_transform
from surgiplan.plan.model import InstrumentPlacement, as_point

if TYPE_CHECKING:
    from surgiplan.twin.twin import PatientTwin

PATIENT_LEFT = np.array([1.0, 0.0, 0.0])
PATIENT_POSTERIOR = np.array([0.0, 1.0, 0.0])
MIN_PATH_MM = 1e-3
"""Shortest entry -> target distance accepted (mm)."""


def frame_along(axis: Any) -> np.ndarray:
    """Rotation (3, 3) whose column 2 is the unit ``axis`` and column 0 is closest to +L.

    Parameters
    ----------
    axis : (3,) float array
        Shaft direction, handle -> tip (any non-zero length).

    Returns
    -------
    (3, 3) float64 ndarray
        Right-handed orthonormal columns (x, y, z) in LPS.
    """
    z = np.asarray(axis, dtype=np.float64)
    z = z / np.linalg.norm(z)
    reference = PATIENT_LEFT if abs(z @ PATIENT_LEFT) < 0.99 else PATIENT_POSTERIOR
    x = reference - (reference @ z) * z
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def pose_along(axis: Any, tip_lps_mm: Any) -> np.ndarray:
    """Rigid (4, 4) tip pose: shaft along ``axis`` (handle -> tip, :func:`frame_along`), tip at
    ``tip_lps_mm`` (LPS mm)."""
    return _pose(frame_along(axis), np.asarray(tip_lps_mm, dtype=np.float64))


def _pose(rotation: np.ndarray, tip_lps_mm: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = tip_lps_mm
    return pose


def _snap_to_skin(twin: PatientTwin, skin: str, entry: np.ndarray, target: np.ndarray,
                  snap_mm: float) -> np.ndarray:
    """The skin crossing of the target->entry line nearest ``entry``, if within ``snap_mm``."""
    from surgiplan.plan.trajectory import surface_hits

    if skin not in twin.structures:
        return entry
    direction = (entry - target) / np.linalg.norm(entry - target)
    hits = surface_hits(twin.structures[skin].surface, target, direction)
    if len(hits.distances_mm) == 0:
        return entry
    picked = float(np.linalg.norm(entry - target))
    nearest = hits.distances_mm[np.argmin(np.abs(hits.distances_mm - picked))]
    if abs(nearest - picked) > snap_mm:
        return entry
    return target + nearest * direction


def place_along_path(plan_id: str, instrument: Instrument, entry_lps_mm: Any,
                     target_lps_mm: Any, *, twin: PatientTwin | None = None,
                     skin: str = "skin", snap_mm: float = 2.0) -> InstrumentPlacement:
    """Place ``instrument`` with its tip on the target, aligned along entry -> target.

    Parameters
    ----------
    plan_id : str
        Id of the placement in the plan.
    instrument : Instrument
        Catalogue instrument.
    entry_lps_mm, target_lps_mm : (3,) float array
        Skin entry and target, LPS mm.
    twin : PatientTwin, optional
        When given, an entry picked within ``snap_mm`` of the ``skin`` surface along the path
        line is moved onto it, so the insertion depth is measured from the skin itself.
    skin : str
        Name of the skin structure.
    snap_mm : float
        Largest entry correction (mm); entries farther off are kept as picked (validation
        reports them).

    Returns
    -------
    InstrumentPlacement
        Tip at the target, axis = unit(target - entry), insertion depth = |target - entry|;
        a laparoscopic instrument pivots about the entry (``pivot_lps_mm``).

    Raises
    ------
    InputError
        When entry and target coincide.
    """
    entry = np.asarray(as_point(entry_lps_mm, "entry point"), dtype=np.float64)
    target = np.asarray(as_point(target_lps_mm, "target point"), dtype=np.float64)
    if np.linalg.norm(target - entry) < MIN_PATH_MM:
        raise InputError("entry and target are the same point: pick the target inside the "
                         "patient, away from the entry")
    if twin is not None:
        entry = _snap_to_skin(twin, skin, entry, target, snap_mm)
    axis = target - entry
    return InstrumentPlacement(
        id=plan_id, instrument=instrument.id,
        pose_lps=pose_along(axis, target),
        insertion_depth_mm=float(np.linalg.norm(axis)),
        entry_lps_mm=tuple(entry), target_lps_mm=tuple(target),
        pivot_lps_mm=tuple(entry) if instrument.laparoscopic else None,
    )


def place_free(plan_id: str, instrument: Instrument, pose_4x4: Any, *,
               insertion_depth_mm: float) -> InstrumentPlacement:
    """Place ``instrument`` at a free pose (tip frame -> LPS mm).

    Parameters
    ----------
    plan_id : str
        Id of the placement in the plan.
    instrument : Instrument
        Catalogue instrument.
    pose_4x4 : (4, 4) float array
        Rigid pose: column 2 = shaft axis handle -> tip, column 3 = tip, LPS mm.
    insertion_depth_mm : float
        Shaft length inside the patient (>= 0). A laparoscopic instrument pivots about the
        point that far back along the shaft from the tip.

    Returns
    -------
    InstrumentPlacement
        No entry or target (they are made from two points only).
    """
    pose = rigid_transform(pose_4x4, f"the pose of {plan_id!r}")
    depth = float(insertion_depth_mm)
    if not (np.isfinite(depth) and depth >= 0):
        raise InputError(f"insertion depth must be zero or positive (mm), got {insertion_depth_mm}")
    pivot = None
    if instrument.laparoscopic and depth > 0:
        pivot = tuple(pose[:3, 3] - depth * pose[:3, 2])
    return InstrumentPlacement(id=plan_id, instrument=instrument.id, pose_lps=pose,
                               insertion_depth_mm=depth, pivot_lps_mm=pivot)


def _rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Smallest rotation (3, 3) taking unit ``u`` to unit ``v``; ``None`` when opposite."""
    cross, cos = np.cross(u, v), float(u @ v)
    if cos < -1.0 + 1e-9:
        return None
    k = np.array([[0.0, -cross[2], cross[1]], [cross[2], 0.0, -cross[0]],
                  [-cross[1], cross[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + cos)


def pivot_about_port(placement: InstrumentPlacement, instrument: Instrument,
                     new_tip_lps_mm: Any) -> InstrumentPlacement:
    """Move a laparoscopic instrument's tip while its shaft stays through the port.

    Parameters
    ----------
    placement : InstrumentPlacement
        Current placement, with ``pivot_lps_mm`` (the port's skin entry).
    instrument : Instrument
        Its catalogue instrument (must be laparoscopic).
    new_tip_lps_mm : (3,) float array
        Wanted tip position, LPS mm.

    Returns
    -------
    InstrumentPlacement
        Tip at the new position, shaft along pivot -> tip (rolled by the smallest rotation
        from the old axis, so the jaws keep their orientation), insertion depth =
        |tip - pivot|, target = the new tip.

    Raises
    ------
    InputError
        For a non-laparoscopic instrument, a placement without a port, a tip on the port, or a
        tip beyond the instrument's working length.
    """
    if instrument.id != placement.instrument:
        raise InputError(f"placement {placement.id!r} holds {placement.instrument!r}, not "
                         f"{instrument.id!r}: pass its own catalogue instrument")
    if not instrument.laparoscopic:
        raise InputError(f"the {instrument.name} does not pivot about a port: place it along "
                         "a new entry -> target path instead")
    if placement.pivot_lps_mm is None:
        raise InputError(f"placement {placement.id!r} has no port: place it along a path from "
                         "its port entry first")
    pivot = np.asarray(placement.pivot_lps_mm, dtype=np.float64)
    tip = np.asarray(as_point(new_tip_lps_mm, "new tip position"), dtype=np.float64)
    depth = float(np.linalg.norm(tip - pivot))
    if depth < MIN_PATH_MM:
        raise InputError("the new tip is on the port: move it inside the patient")
    if depth > instrument.working_length_mm:
        raise InputError(f"The {instrument.name} reaches {instrument.working_length_mm:.0f} mm; "
                         f"this tip is {depth:.1f} mm from the port: pick a closer tip "
                         "position or a longer instrument")
    axis = (tip - pivot) / depth
    turn = _rotation_between(placement.axis, axis)
    rotation = frame_along(axis) if turn is None else turn @ placement.pose[:3, :3]
    rotation[:, 2] = axis  # remove round-off so the shaft passes exactly through the port
    return replace(placement, pose_lps=_pose(rotation, tip), insertion_depth_mm=depth,
                   target_lps_mm=tuple(tip))
