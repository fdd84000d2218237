"""Check instrument placements and report problems in words a surgeon acts on.

Codes (:data:`PROBLEM_CODES`):

- ``unknown_instrument``: the placement names an instrument the catalogue does not have.
- ``entry_not_on_skin``: the entry (or a laparoscopic port) is farther than the tolerance from
  the skin surface.
- ``no_skin_surface``: the twin has no skin structure to check the entry against.
- ``target_outside_volume``: the target (or tip) lies outside the scanned volume.
- ``too_short``: the insertion depth exceeds the instrument's working length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Catalogue, Instrument
from surgiplan.plan.measure import closest_point_on_surface
from surgiplan.plan.model import InstrumentPlacement

if TYPE_CHECKING:
    from surgiplan.twin.twin import PatientTwin

PROBLEM_CODES = ("unknown_instrument", "entry_not_on_skin", "no_skin_surface",
                 "target_outside_volume", "too_short")
BOUNDS_TOLERANCE_MM = 1e-6
"""Round-off allowed when mapping a point to voxel indices and back (mm)."""
LENGTH_SLACK_MM = 1e-6
"""Round-off allowed when comparing the insertion depth with the working length."""


@dataclass(frozen=True)
class PlanProblem:
    """One problem of a plan item.

    Attributes
    ----------
    item_id : str
        Id of the plan item (placement) at fault.
    code : str
        One of :data:`PROBLEM_CODES`.
    message : str
        What is wrong and what to do, for the surgeon.
    """

    item_id: str
    code: str
    message: str


def _mm(value: float) -> str:
    """``12.4`` or ``150`` (one decimal, trailing zero dropped)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class VolumeBounds:
    """The scanned box: a voxel grid's affine and shape.

    Attributes
    ----------
    affine_lps : (4, 4) float64 ndarray
        Voxel (i, j, k, 1) -> LPS mm.
    shape : (slices, rows, columns)
        Grid shape, indexed ``[k, j, i]``. The box spans the voxels' full extent, from
        index -0.5 to n - 0.5 along each axis.
    """

    affine_lps: np.ndarray
    shape: tuple[int, int, int]

    @classmethod
    def of(cls, source: Any) -> VolumeBounds:
        """Bounds of a :class:`Volume`, :class:`LabelMap` or :class:`PatientTwin` grid."""
        if isinstance(source, VolumeBounds):
            return source
        grid = getattr(source, "labelmap", source)
        affine, shape = getattr(grid, "affine_lps", None), getattr(grid, "shape", None)
        if affine is None or shape is None or len(shape) != 3:
            raise InputError("volume bounds need a Volume, LabelMap, PatientTwin or "
                             "VolumeBounds(affine_lps, shape)")
        return cls(np.asarray(affine, dtype=np.float64), tuple(int(n) for n in shape))

    def distance_outside_mm(self, points_lps_mm: Any) -> np.ndarray:
        """(n,) distance from each LPS point to the box (0 inside), mm.

        Exact for orthogonal voxel axes (any spacing and rotation); approximate for sheared
        (gantry-tilt) grids.
        """
        points = np.atleast_2d(np.asarray(points_lps_mm, dtype=np.float64))
        inverse = np.linalg.inv(self.affine_lps)
        ijk = points @ inverse[:3, :3].T + inverse[:3, 3]
        upper = np.asarray(self.shape[::-1], dtype=np.float64) - 0.5
        clamped = np.clip(ijk, -0.5, upper)
        nearest = clamped @ self.affine_lps[:3, :3].T + self.affine_lps[:3, 3]
        return np.linalg.norm(points - nearest, axis=1)


def _resolve(placement: InstrumentPlacement,
             instrument: Instrument | Catalogue | None) -> Instrument | None:
    if isinstance(instrument, Catalogue):
        return instrument.instruments.get(placement.instrument)
    if instrument is not None and instrument.id != placement.instrument:
        raise InputError(f"placement {placement.id!r} holds {placement.instrument!r}, not "
                         f"{instrument.id!r}: pass its own catalogue instrument or the catalogue")
    return instrument


def _entry_problems(placement: InstrumentPlacement, twin: PatientTwin, skin: str,
                    tolerance_mm: float) -> list[PlanProblem]:
    entry = placement.entry_lps_mm or placement.pivot_lps_mm
    if entry is None:
        return []
    what = "Entry point" if placement.entry_lps_mm is not None else "Port"
    if skin not in twin.structures:
        return [PlanProblem(placement.id, "no_skin_surface",
                            f"The twin has no {skin!r} surface to check the entry against: "
                            "segment the skin (body outline) or name the skin structure")]
    gap_mm = closest_point_on_surface(twin.structures[skin].surface, entry).distance_mm
    if gap_mm <= tolerance_mm:
        return []
    return [PlanProblem(placement.id, "entry_not_on_skin",
                        f"{what} is {_mm(gap_mm)} mm from the skin surface: pick the entry "
                        "on the skin")]


def _target_problems(placement: InstrumentPlacement, bounds: VolumeBounds) -> list[PlanProblem]:
    target = placement.target_lps_mm or tuple(placement.tip_lps_mm)
    outside_mm = float(bounds.distance_outside_mm(target)[0])
    if outside_mm <= BOUNDS_TOLERANCE_MM:
        return []
    what = "Target point" if placement.target_lps_mm is not None else "Instrument tip"
    return [PlanProblem(placement.id, "target_outside_volume",
                        f"{what} is {_mm(outside_mm)} mm outside the scanned volume: pick a "
                        "target inside the scan")]


def _length_problems(placement: InstrumentPlacement,
                     instrument: Instrument) -> list[PlanProblem]:
    depth_mm, reach_mm = placement.insertion_depth_mm, instrument.working_length_mm
    if depth_mm <= reach_mm + LENGTH_SLACK_MM:
        return []
    return [PlanProblem(placement.id, "too_short",
                        f"The {instrument.name} reaches {_mm(reach_mm)} mm; this path needs "
                        f"{_mm(depth_mm)} mm: choose a longer instrument or a closer entry")]


def validate_placement(placement: InstrumentPlacement,
                       instrument: Instrument | Catalogue | None, twin: PatientTwin, *,
                       volume: Any = None, skin: str = "skin",
                       tolerance_mm: float = 2.0) -> list[PlanProblem]:
    """Every problem of one placement (an empty list when it is fine).

    Parameters
    ----------
    placement : InstrumentPlacement
        The placement to check.
    instrument : Instrument, Catalogue or None
        Its catalogue instrument, or the catalogue to look it up in; ``None`` (or an id the
        catalogue lacks) reports ``unknown_instrument``.
    twin : PatientTwin
        The patient; its skin structure checks the entry.
    volume : Volume, LabelMap, VolumeBounds, optional
        The scanned box for the target check; the twin's label-map grid (the volume's grid)
        when omitted.
    skin : str
        Name of the skin structure.
    tolerance_mm : float
        Largest accepted entry-to-skin distance, mm.

    Returns
    -------
    list of PlanProblem
        In the order unknown instrument, entry, target, length.
    """
    if not tolerance_mm >= 0:
        raise InputError(f"tolerance_mm must be zero or positive, got {tolerance_mm}")
    problems = []
    resolved = _resolve(placement, instrument)
    if resolved is None:
        known = f" (known: {', '.join(instrument)})" if isinstance(instrument, Catalogue) else ""
        problems.append(PlanProblem(placement.id, "unknown_instrument",
                                    f"Instrument {placement.instrument!r} is not in the "
                                    f"catalogue{known}: pick a catalogue instrument or add it "
                                    "in a user file"))
    problems += _entry_problems(placement, twin, skin, tolerance_mm)
    problems += _target_problems(placement, VolumeBounds.of(twin if volume is None else volume))
    if resolved is not None:
        problems += _length_problems(placement, resolved)
    return problems
