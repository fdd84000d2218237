"""What the rules read: plain data that the simulation (or a test) fills in.

Rules never call the collision or FEM code; they read the numbers here. Every finding is
optional: a rule whose data is missing reports nothing rather than guessing. Units are in the
names: ``_mm`` (LPS millimetres), ``_n`` (newtons), ``_mmhg``, ``_s``, ``_ml``.

Conventions the filler must follow:

- Distances between an instrument and a structure (:class:`Clearance`) and between two
  instruments (:class:`ClashFindings`) are **surface to surface**: the instrument radius is
  already subtracted. They are 0 (or negative, a penetration depth) when the shapes touch or
  overlap.
- ``target_structure`` is the innermost structure holding the target (the tumour for an
  ablation, the liver for a liver biopsy without a segmented lesion), named on the rest
  anatomy; where the tip stands against it, at rest or after a retractor moved it, is in
  ``tip_to_target`` (:class:`TipToTarget`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from surgiplan.risk.thresholds import Thresholds, load_thresholds

if TYPE_CHECKING:
    from surgiplan.plan.catalogue import Catalogue, Instrument
    from surgiplan.plan.incision import IncisionPath
    from surgiplan.plan.model import InstrumentPlacement, Plan, Point
    from surgiplan.plan.trajectory import Trajectory
    from surgiplan.segmentation import StructureInfo
    from surgiplan.twin.twin import PatientTwin

LiverCondition = Literal["normal", "chemotherapy", "cirrhosis"]
LIVER_CONDITIONS = ("normal", "chemotherapy", "cirrhosis")


@dataclass(frozen=True)
class Clearance:
    """Closest approach of an instrument to one structure.

    Attributes
    ----------
    distance_mm : float
        Instrument surface to structure surface (mm); <= 0 when touching or inside.
    point_lps_mm : (x, y, z)
        Closest point on the instrument (LPS mm).
    structure_point_lps_mm : (x, y, z)
        Closest point on the structure (LPS mm).
    deformed_by : tuple of str
        Placement ids of the instruments (retractors, graspers) whose push moved the structure:
        the distance is measured on the deformed anatomy. Empty: on the rest anatomy.
    """

    distance_mm: float
    point_lps_mm: Point
    structure_point_lps_mm: Point
    deformed_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """An instrument inside a structure's volume.

    Attributes
    ----------
    depth_mm : float
        How far inside (penetration depth or length of shaft inside, mm; > 0).
    point_lps_mm : (x, y, z)
        Where (the deepest point, or where it enters), LPS mm.
    deformed_by : tuple of str
        Placement ids of the instruments whose push moved the structure (measured on the
        deformed anatomy); empty on the rest anatomy.
    """

    depth_mm: float
    point_lps_mm: Point
    deformed_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class TipToTarget:
    """Where an instrument's tip stands against its target structure.

    Attributes
    ----------
    structure : str
        The target structure (:attr:`InstrumentFindings.target_structure`).
    distance_mm : float
        Tip to the target's surface, mm: > 0 outside (how far the tip misses it), <= 0 inside
        (minus the depth below the surface).
    point_lps_mm : (x, y, z)
        Closest point of the target's surface to the tip, LPS mm.
    rest_distance_mm : float
        ``distance_mm`` on the rest anatomy (equal to it when not deformed).
    deformed_by : tuple of str
        Placement ids of the instruments (retractors, graspers) whose push moved the target:
        ``distance_mm`` is measured on the deformed anatomy. Empty: on the rest anatomy.
    carried_by : tuple of str
        The deformed organs that moved the target (they hold it, wherever it went); empty on
        the rest anatomy.
    surface_lps_mm : (n, 3) float64 ndarray or None
        The moved target's render-surface vertices, LPS mm, when ``deformed_by``; ``None``:
        the twin's rest surface.
    """

    structure: str
    distance_mm: float
    point_lps_mm: Point
    rest_distance_mm: float
    deformed_by: tuple[str, ...] = ()
    carried_by: tuple[str, ...] = ()
    surface_lps_mm: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def inside(self) -> bool:
        """Whether the tip lies inside the target."""
        return self.distance_mm <= 0.0

    @property
    def moved_away(self) -> bool:
        """The tip was inside the target at rest and a push moved the target off it."""
        return bool(self.deformed_by) and self.rest_distance_mm <= 0.0 < self.distance_mm


@dataclass(frozen=True)
class AblationZone:
    """The predicted ablation zone of a probe: an ellipsoid.

    Attributes
    ----------
    centre_lps_mm : (x, y, z)
        Centre (LPS mm).
    radii_mm : (a, b, c)
        Semi-axes (mm) along the rows of ``axes``.
    axes : (3, 3) tuple
        Rows are the unit directions of the semi-axes (LPS); identity by default. For a probe
        the long axis is usually the shaft axis.
    """

    centre_lps_mm: Point
    radii_mm: tuple[float, float, float]
    axes: tuple[Point, Point, Point] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass
class InstrumentFindings:
    """What the simulation found for one placed instrument.

    Attributes
    ----------
    placement : InstrumentPlacement
        The plan item.
    instrument : Instrument
        Its catalogue entry.
    target_structure : str or None
        Innermost structure holding the target/tip (entering it, and the non-critical organs
        around it, is intended), named on the rest anatomy.
    trajectory : Trajectory or None
        Entry -> target analysis (crossings in order).
    clearances : dict of str to Clearance
        Per structure, surface-to-surface closest approach (radius already subtracted).
    entered : dict of str to Entry
        Structures whose volume the instrument penetrates, with depth.
    contact_structure : str or None
        Structure the contact force / pressure below acts on.
    contact_force_n : float or None
        Peak contact force on it (N).
    contact_pressure_mmhg : float or None
        Peak retraction pressure (mmHg).
    contact_duration_s : float or None
        Cumulative time the retraction pressure stayed above the rule's warning pressure
        (20 mmHg by default), s.
    ablation_zone : AblationZone or None
        Predicted zone for ablation probes.
    tip_to_target : TipToTarget or None
        The tip against ``target_structure`` (instruments that do not push tissue), measured
        on the deformed anatomy when a push moved the target.
    """

    placement: InstrumentPlacement
    instrument: Instrument
    target_structure: str | None = None
    trajectory: Trajectory | None = None
    clearances: dict[str, Clearance] = field(default_factory=dict)
    entered: dict[str, Entry] = field(default_factory=dict)
    contact_structure: str | None = None
    contact_force_n: float | None = None
    contact_pressure_mmhg: float | None = None
    contact_duration_s: float | None = None
    ablation_zone: AblationZone | None = None
    tip_to_target: TipToTarget | None = None

    @property
    def item_id(self) -> str:
        return self.placement.id

    def tip_to_target_structure(self) -> TipToTarget | None:
        """``tip_to_target`` when it measures ``target_structure`` (a caller that renamed the
        target, as a rehearsal keeping the planned one, leaves it unread), else ``None``."""
        reach = self.tip_to_target
        return reach if reach is not None and reach.structure == self.target_structure else None

    def target_lps_mm(self) -> np.ndarray:
        """The aimed point: the trajectory's target, the placement's, else the tip (LPS mm)."""
        if self.trajectory is not None:
            return np.asarray(self.trajectory.target_lps_mm, dtype=float)
        if self.placement.target_lps_mm is not None:
            return np.asarray(self.placement.target_lps_mm, dtype=float)
        return self.placement.tip_lps_mm


@dataclass(frozen=True)
class VesselDistance:
    """How close an incision's cut comes to one critical structure.

    Attributes
    ----------
    distance_mm : float
        Cut (path swept down to its depth) to the structure's surface, mm; 0 when the cut
        reaches into it.
    point_lps_mm : (x, y, z)
        The point of the cut where it comes closest (LPS mm).
    deformed_by : tuple of str
        Placement ids of the instruments (retractors, graspers) whose push moved the structure
        or the organ the incision is drawn on (and the cut with it): the distance is measured
        on the deformed anatomy. Empty: on the rest anatomy.
    """

    distance_mm: float
    point_lps_mm: Point
    deformed_by: tuple[str, ...] = ()


@dataclass
class IncisionFindings:
    """One incision and how close its cut comes to vessels.

    Attributes
    ----------
    path : IncisionPath
        The traced cut (with its depth).
    vessel_distances : dict of str to VesselDistance
        Per vessel, distance from the cut surface (path swept down to its depth) to the
        vessel surface (mm; <= 0 when the cut reaches it).
    """

    path: IncisionPath
    vessel_distances: dict[str, VesselDistance] = field(default_factory=dict)

    @property
    def item_id(self) -> str:
        return self.path.incision_id


@dataclass(frozen=True)
class StrainFindings:
    """Peak strain of one structure (dimensionless, maximum principal)."""

    structure: str
    tissue: str
    max_principal_strain: float
    location_lps_mm: Point | None = None


@dataclass(frozen=True)
class ClashFindings:
    """Closest approach of two placed instruments.

    ``distance_mm`` is the gap between their surfaces (axis distance minus both radii), <= 0
    when they touch or intersect.
    """

    instrument_a: str
    instrument_b: str
    distance_mm: float
    point_lps_mm: Point | None = None


@dataclass(frozen=True)
class ResectionFindings:
    """Liver volumes of a planned resection.

    Attributes
    ----------
    remnant_ml : float
        Future liver remnant (mL).
    total_liver_ml : float or None
        Total liver volume (mL); ``None``: the twin's liver structure volume is used.
    liver_condition : {"normal", "chemotherapy", "cirrhosis"}
        Sets the minimum remnant.
    """

    remnant_ml: float
    total_liver_ml: float | None = None
    liver_condition: LiverCondition = "normal"


@dataclass
class RiskContext:
    """Everything the rules read; all optional.

    Attributes
    ----------
    twin, plan, catalogue : optional
        The patient twin (structure names, tissues, critical flags, surfaces, volumes), the
        plan and the instrument catalogue.
    thresholds : Thresholds
        Table merged with plan overrides (:func:`load_thresholds`); the shipped table by
        default.
    instruments : dict of str to InstrumentFindings
        Per placement id.
    incisions : dict of str to IncisionFindings
        Per incision id.
    strains : list of StrainFindings
        Per structure.
    clashes : list of ClashFindings
        Per instrument pair.
    resection : ResectionFindings or None
        Planned liver resection.
    time_s : float or None
        Rehearsal time (s); copied into every complication.
    """

    twin: PatientTwin | None = None
    plan: Plan | None = None
    catalogue: Catalogue | None = None
    thresholds: Thresholds = field(default_factory=load_thresholds)
    instruments: dict[str, InstrumentFindings] = field(default_factory=dict)
    incisions: dict[str, IncisionFindings] = field(default_factory=dict)
    strains: list[StrainFindings] = field(default_factory=list)
    clashes: list[ClashFindings] = field(default_factory=list)
    resection: ResectionFindings | None = None
    time_s: float | None = None

    def structure_info(self, name: str) -> StructureInfo | None:
        """The twin's info on structure ``name`` (``None`` without a twin or structure)."""
        if self.twin is None or name not in self.twin.structures:
            return None
        return self.twin.structures[name].info

    def tissue(self, name: str) -> str | None:
        """Tissue type of structure ``name``, or ``None`` when unknown."""
        info = self.structure_info(name)
        return None if info is None else info.tissue

    def deformed_by(self, item_id: str | None, structure: str) -> tuple[str, ...]:
        """Instruments whose push moved ``structure`` when instrument ``item_id``'s clearance
        to it, entry into it, or tip distance to it (its target) was measured, or whose push
        moved it or the cut when incision ``item_id``'s distance to it was measured (empty:
        measured on the rest anatomy)."""
        incision = self.incisions.get(item_id or "")
        if incision is not None:
            return getattr(incision.vessel_distances.get(structure), "deformed_by", ())
        findings = self.instruments.get(item_id or "")
        if findings is None:
            return ()
        target = findings.tip_to_target_structure()
        found = [*getattr(findings.clearances.get(structure), "deformed_by", ()),
                 *getattr(findings.entered.get(structure), "deformed_by", ()),
                 *(target.deformed_by if target is not None and target.structure == structure
                   else ())]
        return tuple(dict.fromkeys(found))

    def is_critical(self, name: str) -> bool | None:
        """The structure's critical flag, or ``None`` when unknown."""
        info = self.structure_info(name)
        return None if info is None else bool(info.critical)
