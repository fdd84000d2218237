"""Instrument geometry for collision: fcl primitives built once per instrument, moved per pose."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import fcl
import numpy as np
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Instrument, Primitive
from surgiplan.plan.primitives import primitive_sdf


def rigid_pose(pose: Any, what: str = "the pose") -> np.ndarray:
    """A rigid (4, 4) float64 transform (tip frame -> LPS mm) or :class:`InputError`."""
    try:
        matrix = np.asarray(pose, dtype=np.float64)
    except (TypeError, ValueError):
        matrix = np.zeros(0)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise InputError(f"{what} must be a finite 4x4 matrix (tip frame -> LPS mm)")
    rotation = matrix[:3, :3]
    if (np.abs(rotation.T @ rotation - np.eye(3)).max() > 1e-6
            or np.linalg.det(rotation) <= 0
            or np.abs(matrix[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-12):
        raise InputError(f"{what} must be a rigid 4x4 transform (rotation and translation in mm)")
    return matrix


def _frame(z_axis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(4, 4) transform taking +z to the unit ``z_axis`` at ``origin``."""
    transform = np.eye(4)
    transform[:3, :3] = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], z_axis)[:3, :3]
    transform[:3, 3] = origin
    return transform


@dataclass(frozen=True, eq=False)
class InstrumentPart:
    """One primitive of an instrument as python-fcl geometry.

    Attributes
    ----------
    primitive : Primitive
        The analytic primitive, tip frame (mm).
    geometry : fcl.CollisionGeometry
        ``fcl.Capsule``, ``fcl.Cone``, ``fcl.Box`` (or ``fcl.Sphere`` for a zero-length capsule),
        centred in its own frame as python-fcl defines it.
    local : (4, 4) float64 ndarray
        The fcl geometry's frame -> tip frame.
    extent : (k, 3) float64 ndarray, pad : (k,) float64 ndarray
        Points (tip frame) and radii whose balls bound the part (for its bounding box).
    hull : (2, 3) float64 ndarray, hull_radius : float
        A capsule (segment in the tip frame, radius) containing the part, for distance bounds.
    """

    primitive: Primitive
    geometry: fcl.CollisionGeometry
    local: np.ndarray
    extent: np.ndarray
    pad: np.ndarray
    hull: np.ndarray
    hull_radius: float

    @property
    def name(self) -> str:
        return self.primitive.part or self.primitive.kind

    @classmethod
    def of(cls, primitive: Primitive) -> InstrumentPart:
        """The fcl geometry of ``primitive`` and its placement in the tip frame."""
        p = primitive.params
        if primitive.kind == "capsule":
            a, b = p["segment"]
            length, r = float(np.linalg.norm(b - a)), p["radius_mm"]
            geometry = fcl.Capsule(r, length) if length > 1e-9 else fcl.Sphere(r)
            local = _frame((b - a) / length if length > 1e-9 else np.array([0, 0, 1.0]),
                           (a + b) / 2)
            return cls(primitive, geometry, local, np.stack([a, b]), np.full(2, r),
                       np.stack([a, b]), r)
        if primitive.kind == "cone":
            apex, base, r = p["apex"], p["base"], p["base_radius_mm"]
            height = float(np.linalg.norm(apex - base))
            local = _frame((apex - base) / height, (apex + base) / 2)  # fcl: apex at +z/2
            return cls(primitive, fcl.Cone(r, height), local, np.stack([apex, base]),
                       np.array([0.0, r]), np.stack([apex, base]), r)
        local = np.eye(4)
        local[:3, :3], local[:3, 3] = p["axes"].T, p["centre"]
        half, longest = p["half_extents_mm"], int(np.argmax(p["half_extents_mm"]))
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)])
        corners = p["centre"] + (signs * half) @ p["axes"]
        reach = half[longest] * p["axes"][longest]
        hull = np.stack([p["centre"] - reach, p["centre"] + reach])
        radius = float(np.sqrt((half**2).sum() - half[longest] ** 2))
        return cls(primitive, fcl.Box(*(2.0 * half)), local, corners, np.zeros(8), hull, radius)


class InstrumentGeometry:
    """An instrument's primitives as python-fcl geometry, built once (:func:`instrument_geometry`).

    Attributes
    ----------
    instrument : Instrument
        The catalogue instrument.
    parts : tuple of InstrumentPart
        One per primitive, in catalogue order.
    thinnest_mm : float
        Smallest radius (capsule, cone base) or half thickness (box) of any part, mm.
    reach_mm : float
        Largest distance of any point of the instrument from its tip, mm.
    tip_part : str
        Name of the part holding the tip (the tip-frame origin).
    hulls : (p, 2, 3) float64 ndarray, hull_radii : (p,) float64 ndarray
        Each part's bounding capsule (tip frame), for distance lower bounds.
    """

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.parts = tuple(InstrumentPart.of(p) for p in instrument.primitives)
        self._locals = np.stack([part.local for part in self.parts])
        self._extent = np.concatenate([part.extent for part in self.parts])
        self._pad = np.concatenate([part.pad for part in self.parts])
        self._starts = np.cumsum([0] + [len(part.pad) for part in self.parts[:-1]])
        self.hulls = np.stack([part.hull for part in self.parts])
        self.hull_radii = np.array([part.hull_radius for part in self.parts])
        self.thinnest_mm = min(_thickness(part.primitive) for part in self.parts)
        self.reach_mm = float((np.linalg.norm(self._extent, axis=1) + self._pad).max())
        at_tip = [primitive_sdf(part.primitive, np.zeros((1, 3)))[0] for part in self.parts]
        self.tip_part = self.parts[int(np.argmin(at_tip))].name
        self._slots: dict[int, list[fcl.CollisionObject]] = {}

    def collision_objects(self, pose: np.ndarray, slot: int = 0) -> list[fcl.CollisionObject]:
        """The parts' cached collision objects moved to a rigid ``pose`` (tip frame -> LPS mm).

        The geometry is not rebuilt; the same objects are returned (moved) on every call with
        the same ``slot``: use another slot to hold a second placement of this instrument.
        """
        objects = self._slots.get(slot)
        if objects is None:
            objects = [fcl.CollisionObject(part.geometry, fcl.Transform()) for part in self.parts]
            self._slots[slot] = objects
        for obj, world in zip(objects, pose @ self._locals, strict=True):
            obj.setTransform(fcl.Transform(world[:3, :3], world[:3, 3]))
        return objects

    def part_boxes(self, pose: np.ndarray) -> np.ndarray:
        """(p, 2, 3) min and max corners of each part's bounding box in LPS mm at ``pose``."""
        points = self._extent @ pose[:3, :3].T + pose[:3, 3]
        low = np.minimum.reduceat(points - self._pad[:, None], self._starts, axis=0)
        high = np.maximum.reduceat(points + self._pad[:, None], self._starts, axis=0)
        return np.stack([low, high], axis=1)


def _thickness(primitive: Primitive) -> float:
    p = primitive.params
    if primitive.kind == "capsule":
        return float(p["radius_mm"])
    if primitive.kind == "cone":
        return float(p["base_radius_mm"])
    return float(np.min(p["half_extents_mm"]))


_GEOMETRIES: weakref.WeakKeyDictionary[Instrument, InstrumentGeometry] = (
    weakref.WeakKeyDictionary())


def instrument_geometry(instrument: Instrument | InstrumentGeometry) -> InstrumentGeometry:
    """The :class:`InstrumentGeometry` of ``instrument``, built on first use and kept with it."""
    if isinstance(instrument, InstrumentGeometry):
        return instrument
    if not isinstance(instrument, Instrument):
        raise InputError(f"expected a catalogue Instrument, got {type(instrument).__name__}")
    geometry = _GEOMETRIES.get(instrument)
    if geometry is None:
        geometry = _GEOMETRIES[instrument] = InstrumentGeometry(instrument)
    return geometry


def support_depth(primitive: Primitive, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Depth (mm, >= 0) of a primitive's deepest point below each plane (point, normal).

    Parameters
    ----------
    primitive : Primitive
        The primitive, in the frame of the planes.
    points, normals : (k, 3) float arrays
        A point on each plane and its unit outward normal.

    Returns
    -------
    (k,) float64 ndarray
        ``max(0, point . n - min over the primitive of x . n)``.
    """
    p, n = primitive.params, normals
    if primitive.kind == "capsule":
        lowest = (p["segment"] @ n.T).min(axis=0) - p["radius_mm"]
    elif primitive.kind == "cone":
        axis = (p["base"] - p["apex"]) / np.linalg.norm(p["base"] - p["apex"])
        slope = np.sqrt(np.maximum(0.0, 1.0 - (n @ axis) ** 2))
        lowest = np.minimum(n @ p["apex"], n @ p["base"] - p["base_radius_mm"] * slope)
    else:
        lowest = n @ p["centre"] - np.abs(n @ p["axes"].T) @ p["half_extents_mm"]
    return np.maximum(0.0, np.einsum("ij,ij->i", points, n) - lowest)
