"""The report as data: every section's rows, ready for the PDF and the HTML writers.

:func:`surgiplan.report.build.build_model` fills a :class:`ReportModel` from a case and its
plan check; the writers (:mod:`surgiplan.report.pdf`, :mod:`surgiplan.report.html`) only lay it
out. De-identification is decided when the model is built: a model built without
``identify`` holds no identifying value, so no writer can leak one.
"""

from __future__ import annotations

from dataclasses import dataclass

from surgiplan.report.profiles import DistanceProfile

DISCLAIMER = ("SurgiPlan is a planning aid for education and rehearsal. It is not a medical "
              "device: it is not cleared or approved for diagnosis or treatment, and every "
              "measurement must be verified by the responsible clinician.")
"""The statement on the cover (and repeated in the footer of every page)."""


@dataclass(frozen=True)
class Cover:
    """The cover page.

    Attributes
    ----------
    title : str
        Report title.
    patient_reference : str
        De-identified case reference (always shown).
    identifiers : tuple of (label, value)
        Patient identifiers; empty unless the report was asked to identify the patient.
    date : str
        Date and time the report was made (ISO 8601, UTC).
    author : str
        Who made the report.
    software_version : str
        SurgiPlan version that made it.
    disclaimer : str
        The planning-aid statement.
    case_title : str
        The case's name (its file name, else the series description).
    """

    title: str
    patient_reference: str
    identifiers: tuple[tuple[str, str], ...]
    date: str
    author: str
    software_version: str
    disclaimer: str = DISCLAIMER
    case_title: str = ""


@dataclass(frozen=True)
class ScanSection:
    """The scan: series, grid, spacing (mm) and what the import noticed.

    ``details`` holds (label, value) rows: modality, description, series reference,
    dimensions (columns x rows x slices), spacing, field of view, scanner. ``warnings`` holds
    (code, message) rows.
    """

    details: tuple[tuple[str, str], ...]
    warnings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StructureRow:
    """One twin structure: tissue, critical flag, mesh volume (mL) and area (cm2)."""

    name: str
    tissue: str
    critical: bool
    volume_ml: float
    surface_area_cm2: float
    triangles: int
    watertight: bool
    colour: tuple[float, float, float]


@dataclass(frozen=True)
class IncisionRow:
    """One incision: the structure cut, its traced length and planned depth (mm)."""

    id: str
    structure: str
    length_mm: float
    depth_mm: float
    points: int


@dataclass(frozen=True)
class InstrumentRow:
    """One instrument placement and its planned path.

    ``entry_lps_mm``/``target_lps_mm`` are ``None`` without a path; ``crossed`` lists the
    structures crossed as "name a-b mm"; ``closest`` is "structure x.x mm" (the smallest
    clearance along the path) or empty; ``tip`` says where the tip stands against the target
    structure ("1.4 mm inside tumour", "0.6 mm outside tumour on the deformed anatomy after
    retraction by retractor-1") or is empty.
    """

    id: str
    instrument: str
    instrument_name: str
    entry_lps_mm: tuple[float, float, float] | None
    target_lps_mm: tuple[float, float, float] | None
    path_length_mm: float | None
    angle_to_skin_deg: float | None
    target_structure: str | None
    crossed: tuple[str, ...]
    closest: str
    tip: str = ""


@dataclass(frozen=True)
class ComplicationRow:
    """One complication: severity, rule, what it is about, measured value against threshold.

    ``sources`` are the numbers of the :class:`ThresholdSource` entries behind the threshold;
    ``overridden`` says the plan changed the rule's shipped thresholds.
    """

    severity: str
    rule: str
    rule_title: str
    item_id: str
    structures: tuple[str, ...]
    message: str
    value: float
    threshold: float
    unit: str
    sources: tuple[int, ...]
    overridden: bool


@dataclass(frozen=True)
class ThresholdSource:
    """A cited source of a rule's thresholds (``data/risk_thresholds.json``)."""

    number: int
    rule: str
    text: str
    url: str
    confidence: str


@dataclass(frozen=True)
class DeformationRow:
    """A structure deformed by an instrument: peak principal strain, force (N), pressure."""

    structure: str
    tissue: str
    peak_strain: float
    instrument: str
    force_n: float | None
    pressure_mmhg: float | None


@dataclass(frozen=True)
class AttemptRow:
    """One rehearsal attempt's metrics and safety verdict (``failed``: failed metrics)."""

    number: int
    run_id: str
    instrument: str
    trainee: str
    started: str
    time_s: float
    path_length_mm: float
    economy_of_motion: float | None
    smoothness_ldlj: float | None
    idle_ratio: float
    tip_error_mm: float | None
    angular_deviation_deg: float | None
    composite_score: float
    passed: bool
    failed: tuple[str, ...]


@dataclass(frozen=True)
class ProvenanceSection:
    """Where the case came from: (label, value) rows and the processing steps.

    ``steps`` rows are (name, timestamp, parameters as short text).
    """

    details: tuple[tuple[str, str], ...]
    steps: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class ReportModel:
    """Everything the report shows, de-identified unless built with ``identify``.

    Attributes
    ----------
    cover, scan, provenance
        See the section classes.
    structures : tuple of StructureRow
        Twin table order.
    incisions, instruments : tuples of rows
        Plan order.
    profiles : tuple of DistanceProfile
        One per instrument with a path.
    complications : tuple of ComplicationRow
        Critical first (as the check returns them).
    sources : tuple of ThresholdSource
        Numbered sources cited by ``complications``.
    deformations : tuple of DeformationRow
        Structures the plan deforms (blunt instruments), largest strain first.
    attempts : tuple of AttemptRow
        Rehearsal attempts in the order recorded.
    identified : bool
        Whether patient identifiers were asked for.
    """

    cover: Cover
    scan: ScanSection
    structures: tuple[StructureRow, ...]
    incisions: tuple[IncisionRow, ...]
    instruments: tuple[InstrumentRow, ...]
    profiles: tuple[DistanceProfile, ...]
    complications: tuple[ComplicationRow, ...]
    sources: tuple[ThresholdSource, ...]
    deformations: tuple[DeformationRow, ...]
    attempts: tuple[AttemptRow, ...]
    provenance: ProvenanceSection
    identified: bool = False
    landmarks: tuple[tuple[str, str, tuple[float, float, float]], ...] = ()
    face_hidden: tuple[str, ...] = ()
    """Structures left out of the pictures (and the bundle): a head scan's face surfaces."""
    """(id, label, point LPS mm) of each plan landmark."""

    @property
    def peak_strain(self) -> float | None:
        """Largest principal strain over the deformed structures, or ``None``."""
        return max((d.peak_strain for d in self.deformations), default=None)

    @property
    def peak_force_n(self) -> float | None:
        """Largest contact force (N), or ``None``."""
        return max((d.force_n for d in self.deformations if d.force_n is not None),
                   default=None)

    @property
    def peak_pressure_mmhg(self) -> float | None:
        """Largest retraction pressure (mmHg), or ``None``."""
        return max((d.pressure_mmhg for d in self.deformations if d.pressure_mmhg is not None),
                   default=None)
