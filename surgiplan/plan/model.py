"""The plan: incisions, instrument placements, landmarks and measurements, in LPS millimetres.

Items are immutable values identified by ``id``; the :class:`Plan` holds them in ordered
collections and emits an :class:`~surgiplan.events.Event` on every change. Edits go through
commands (:mod:`surgiplan.plan.commands`) so that each can be undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.events import Event, EventEmitter

Point = tuple[float, float, float]


def as_point(values: Any, what: str) -> Point:
    """Three finite floats (LPS mm) or :class:`InputError` naming ``what``."""
    try:
        point = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be three numbers [x, y, z] in LPS mm") from None
    if len(point) != 3 or not all(np.isfinite(point)):
        raise InputError(f"{what} must be three finite numbers [x, y, z] in LPS mm")
    return point


@dataclass(frozen=True)
class Incision:
    """A cut on a structure's surface through the picked points, in order.

    Attributes
    ----------
    id : str
        Unique within the plan.
    structure : str
        The structure whose surface is cut (usually ``"skin"``).
    points_lps_mm : tuple of (x, y, z)
        Picked points (at least 2), LPS mm; the cut follows the surface between them.
    depth_mm : float
        Planned cut depth below the surface (mm).
    """

    id: str
    structure: str
    points_lps_mm: tuple[Point, ...]
    depth_mm: float = 5.0

    def __post_init__(self) -> None:
        points = tuple(as_point(p, f"incision {self.id!r} point") for p in self.points_lps_mm)
        if len(points) < 2:
            raise InputError(f"incision {self.id!r} needs at least 2 points")
        if not self.depth_mm > 0:
            raise InputError(f"incision {self.id!r}: depth must be positive (mm)")
        object.__setattr__(self, "points_lps_mm", points)


@dataclass(frozen=True)
class InstrumentPlacement:
    """An instrument from the catalogue placed in the patient.

    Attributes
    ----------
    id : str
        Unique within the plan.
    instrument : str
        Catalogue id, e.g. ``"biopsy_needle_18g"``.
    pose_lps : (4, 4) tuple
        Rigid pose of the instrument's tip frame in LPS mm: column 2 (z) is the shaft axis
        pointing from the handle to the tip, column 3 the tip position.
    insertion_depth_mm : float
        Length of shaft inside the patient beyond the entry point (mm).
    entry_lps_mm, target_lps_mm : (x, y, z) or None
        Where the path enters the skin and where the tip aims, when made from two points.
    pivot_lps_mm : (x, y, z) or None
        Fixed point a laparoscopic instrument pivots about (its port's skin entry).
    """

    id: str
    instrument: str
    pose_lps: tuple[tuple[float, ...], ...]
    insertion_depth_mm: float = 0.0
    entry_lps_mm: Point | None = None
    target_lps_mm: Point | None = None
    pivot_lps_mm: Point | None = None

    def __post_init__(self) -> None:
        pose = np.asarray(self.pose_lps, dtype=float)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise InputError(f"instrument {self.id!r}: pose must be a finite 4x4 matrix")
        rotation = pose[:3, :3]
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-6) or np.linalg.det(
                rotation) < 0:
            raise InputError(f"instrument {self.id!r}: pose must be a rigid transform")
        object.__setattr__(self, "pose_lps", tuple(tuple(float(v) for v in row) for row in pose))
        for name in ("entry_lps_mm", "target_lps_mm", "pivot_lps_mm"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_point(value, f"instrument {self.id!r} {name}"))

    @property
    def pose(self) -> np.ndarray:
        """(4, 4) float array of :attr:`pose_lps`."""
        return np.asarray(self.pose_lps, dtype=float)

    @property
    def tip_lps_mm(self) -> np.ndarray:
        return self.pose[:3, 3].copy()

    @property
    def axis(self) -> np.ndarray:
        """Unit shaft direction (3,), handle to tip."""
        return self.pose[:3, 2].copy()


@dataclass(frozen=True)
class Landmark:
    """A named point of interest (LPS mm)."""

    id: str
    point_lps_mm: Point
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "point_lps_mm",
                           as_point(self.point_lps_mm, f"landmark {self.id!r}"))


MEASUREMENT_KINDS = ("point_point", "point_structure", "structure_structure", "angle")


@dataclass(frozen=True)
class Measurement:
    """A measurement definition; its value is computed on the twin (mm or degrees).

    ``point_point``: 2 points; ``point_structure``: 1 point + 1 structure;
    ``structure_structure``: 2 structures; ``angle``: 3 points (vertex in the middle).
    """

    id: str
    kind: str
    points_lps_mm: tuple[Point, ...] = ()
    structures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in MEASUREMENT_KINDS:
            raise InputError(f"measurement {self.id!r}: kind must be one of "
                             f"{', '.join(MEASUREMENT_KINDS)}")
        points = tuple(as_point(p, f"measurement {self.id!r} point") for p in self.points_lps_mm)
        wanted = {"point_point": (2, 0), "point_structure": (1, 1),
                  "structure_structure": (0, 2), "angle": (3, 0)}[self.kind]
        if (len(points), len(self.structures)) != wanted:
            raise InputError(f"measurement {self.id!r} ({self.kind}) needs {wanted[0]} point(s) "
                             f"and {wanted[1]} structure(s)")
        object.__setattr__(self, "points_lps_mm", points)
        object.__setattr__(self, "structures", tuple(self.structures))


COLLECTIONS = ("incisions", "instruments", "landmarks", "measurements")
_TYPES = {"incisions": Incision, "instruments": InstrumentPlacement, "landmarks": Landmark,
          "measurements": Measurement}


@dataclass
class Plan:
    """All plan items by collection and id (insertion-ordered), with change events.

    ``thresholds`` holds the plan's overrides of the complication-rule thresholds (rule id ->
    partial entry of ``data/risk_thresholds.json``, see :mod:`surgiplan.plan.overrides`); empty
    when the plan uses the shipped table. Change it through
    :class:`~surgiplan.plan.overrides.SetThresholds` so the change can be undone.
    """

    incisions: dict[str, Incision] = field(default_factory=dict)
    instruments: dict[str, InstrumentPlacement] = field(default_factory=dict)
    landmarks: dict[str, Landmark] = field(default_factory=dict)
    measurements: dict[str, Measurement] = field(default_factory=dict)
    events: EventEmitter = field(default_factory=EventEmitter, compare=False, repr=False)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def collection(self, name: str) -> dict:
        if name not in COLLECTIONS:
            raise InputError(f"unknown plan collection {name!r}")
        return getattr(self, name)

    def get(self, collection: str, item_id: str):
        items = self.collection(collection)
        if item_id not in items:
            raise InputError(f"the plan has no {collection[:-1]} {item_id!r}")
        return items[item_id]

    def new_id(self, collection: str, prefix: str) -> str:
        """A fresh id like ``needle-3`` unused in ``collection``."""
        items = self.collection(collection)
        n = len(items) + 1
        while f"{prefix}-{n}" in items:
            n += 1
        return f"{prefix}-{n}"

    # Low-level mutations: commands call these; they validate and emit events.
    def _put(self, collection: str, item) -> None:
        if not isinstance(item, _TYPES[collection]):
            raise InputError(f"a {type(item).__name__} cannot go into {collection}")
        items = self.collection(collection)
        kind = "changed" if item.id in items else "added"
        items[item.id] = item
        self.events.emit(Event(kind, collection, item.id, item))

    def _insert(self, collection: str, item, position: int) -> None:
        """Put ``item`` back at ``position`` (undo of a removal keeps the order)."""
        items = self.collection(collection)
        entries = list(items.items())
        entries.insert(position, (item.id, item))
        items.clear()
        items.update(entries)
        self.events.emit(Event("added", collection, item.id, item))

    def _remove(self, collection: str, item_id: str):
        item = self.get(collection, item_id)
        del self.collection(collection)[item_id]
        self.events.emit(Event("removed", collection, item_id, None))
        return item

    def snapshot(self) -> dict[str, tuple]:
        """Every collection as an ordered tuple of items (for comparisons and tests)."""
        return {name: tuple(self.collection(name).values()) for name in COLLECTIONS}
