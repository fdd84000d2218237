"""Fill a :class:`~surgiplan.report.model.ReportModel` from a case and its plan check.

The plan check is the one ``surgiplan check`` runs
(:func:`surgiplan.simulation.plan_check.check_case`): its context gives the trajectories,
the traced incisions, the contact forces and strains; its complications the table; the
thresholds' sources come from ``data/risk_thresholds.json`` (as merged with the plan's
overrides). Rehearsal attempts are the runs stored in the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from surgiplan import __version__
from surgiplan.case.model import Case, now_iso
from surgiplan.plan.catalogue import Catalogue
from surgiplan.rehearsal import RehearsalRun
from surgiplan.report import identity
from surgiplan.report.model import (
    AttemptRow,
    ComplicationRow,
    Cover,
    DeformationRow,
    IncisionRow,
    InstrumentRow,
    ProvenanceSection,
    ReportModel,
    ScanSection,
    StructureRow,
    ThresholdSource,
)
from surgiplan.report.profiles import DistanceProfile
from surgiplan.risk import rules
from surgiplan.simulation.plan_check import CheckResult

DEFAULT_TITLE = "Surgical plan report"
WITHHELD = "withheld (de-identified report)"
PATH_PARAMETERS = ("source", "file", "labels", "path", "folder")
"""Step parameters holding file or folder names, shown only in an identified report."""


@dataclass(frozen=True)
class ModelOptions:
    """What the model shows: title, author, date (ISO 8601; now when ``None``), identifiers,
    the case's name (the series description when ``None``)."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    identify: bool = False
    case_title: str | None = None


def build_model(case: Case, check: CheckResult, profiles: list[DistanceProfile],
                runs: list[RehearsalRun], catalogue: Catalogue,
                options: ModelOptions | None = None) -> ReportModel:
    """The report model of ``case``.

    Parameters
    ----------
    case : Case
        Scan, twin, plan and provenance.
    check : CheckResult
        The plan check of ``case`` (``check_case``).
    profiles : list of DistanceProfile
        Clearance along each instrument's path.
    runs : list of RehearsalRun
        Rehearsal attempts, in order.
    catalogue : Catalogue
        Instrument names.
    options : ModelOptions, optional
        Title, author, date, identify.

    Returns
    -------
    ReportModel
        Without ``identify``, no text in it holds an identifying value the case carries.
    """
    options = options or ModelOptions()
    complications, sources = _complications(case, check)
    model = ReportModel(
        cover=_cover(case, options), scan=_scan(case, options.identify),
        structures=_structures(case), incisions=_incisions(check),
        instruments=_instruments(case, check, profiles, catalogue), profiles=tuple(profiles),
        complications=complications, sources=sources, deformations=_deformations(check),
        attempts=tuple(_attempt(i + 1, run) for i, run in enumerate(runs)),
        provenance=_provenance(case, options.identify), identified=options.identify,
        landmarks=tuple((m.id, m.label, m.point_lps_mm) for m in case.plan.landmarks.values()))
    if options.identify:
        return model
    return identity.scrubbed(model, identity.identifying_values(case))


def readable_time(iso: str) -> str:
    """An ISO 8601 time as ``2024-05-01 14:03:09 UTC`` (the text itself if it is not one)."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo else "")


def _cover(case: Case, options: ModelOptions) -> Cover:
    return Cover(
        title=options.title or DEFAULT_TITLE,
        patient_reference=identity.case_reference(case),
        identifiers=identity.identifiers(case) if options.identify else (),
        date=readable_time(options.date or now_iso()),
        author=options.author or case.provenance.author,
        software_version=__version__,
        case_title=options.case_title or str(case.volume.metadata.get("series_description")
                                             or "untitled case"))


def _scan(case: Case, identify: bool) -> ScanSection:
    volume, meta = case.volume, case.volume.metadata
    columns, rows, slices = volume.shape[2], volume.shape[1], volume.shape[0]
    spacing = volume.spacing_mm
    extent = [n * s for n, s in zip((columns, rows, slices), spacing, strict=True)]
    series = meta.get("series_uid") or case.provenance.source.get("series_uid") or ""
    details = [
        ("Modality", volume.modality),
        ("Series", meta.get("series_description") or "no description"),
        ("Series number", meta.get("series_number") or "-"),
        ("Series UID", series if identify else WITHHELD),
        ("Images", str(meta.get("source_images") or slices)),
        ("Dimensions", f"{columns} x {rows} x {slices} (columns x rows x slices)"),
        ("Spacing", " x ".join(f"{s:.3g}" for s in spacing) + " mm"),
        ("Field of view", " x ".join(f"{e:.0f}" for e in extent) + " mm"),
        ("Scanner", " ".join(v for v in (meta.get("Manufacturer"),
                                         meta.get("ManufacturerModelName")) if v) or "-"),
        ("Body part", meta.get("BodyPartExamined") or "-"),
    ]
    warnings = tuple((w.code, w.message) for w in volume.warnings)
    if not warnings:
        warnings = tuple((code, "(recorded at import)") for code in
                         case.provenance.source.get("import_warnings") or ())
    return ScanSection(tuple(details), warnings)


def _structures(case: Case) -> tuple[StructureRow, ...]:
    out = []
    for model in case.twin.structures.values():
        display = case.twin.display.get(model.name)
        colour = display.colour if display is not None else model.info.colour
        out.append(StructureRow(
            model.name, model.info.tissue, bool(model.info.critical),
            float(model.properties.volume_ml), float(model.properties.surface_area_cm2),
            model.surface.n_triangles, bool(model.report.watertight),
            tuple(float(c) for c in colour)))
    return tuple(out)


def _incisions(check: CheckResult) -> tuple[IncisionRow, ...]:
    return tuple(IncisionRow(f.path.incision_id, f.path.structure, float(f.path.length_mm),
                             float(f.path.depth_mm), len(f.path.points_on_surface_lps_mm))
                 for f in check.context.incisions.values())


def _point(value: Any) -> tuple[float, float, float] | None:
    return None if value is None else tuple(float(v) for v in value)


def _instruments(case: Case, check: CheckResult, profiles: list[DistanceProfile],
                 catalogue: Catalogue) -> tuple[InstrumentRow, ...]:
    by_id = {p.item_id: p for p in profiles}
    out = []
    for placement in case.plan.instruments.values():
        findings = check.context.instruments.get(placement.id)
        trajectory = findings.trajectory if findings is not None else None
        name = (catalogue.get(placement.instrument).name if placement.instrument in catalogue
                else placement.instrument)
        closest = by_id[placement.id].closest() if placement.id in by_id else None
        out.append(InstrumentRow(
            placement.id, placement.instrument, name, _point(placement.entry_lps_mm),
            _point(placement.target_lps_mm),
            None if trajectory is None else float(trajectory.length_mm),
            None if trajectory is None else trajectory.angle_to_skin_normal_deg,
            None if findings is None else findings.target_structure,
            () if trajectory is None else tuple(
                f"{c.structure} {c.enter_mm:.1f}-{c.leave_mm:.1f} mm"
                for c in trajectory.crossings),
            "" if closest is None else f"{closest[0]} {closest[1]:.1f} mm",
            _tip_text(findings)))
    return tuple(out)


def _tip_text(findings) -> str:
    """Where the tip stands against its target structure (see :class:`InstrumentRow`)."""
    reach = None if findings is None else findings.tip_to_target_structure()
    if reach is None:
        return ""
    where = (f"{-reach.distance_mm:.1f} mm inside" if reach.distance_mm <= 0
             else f"{reach.distance_mm:.1f} mm outside")
    text = f"{where} {reach.structure}"
    if reach.deformed_by:
        text += (" on the deformed anatomy after retraction by "
                 + ", ".join(reach.deformed_by))
    return text


def _complications(case: Case, check: CheckResult
                   ) -> tuple[tuple[ComplicationRow, ...], tuple[ThresholdSource, ...]]:
    """The check's complications with their rule titles and numbered threshold sources."""
    titles = {rule_id: rule.title for rule_id, rule in rules().items()}
    thresholds = check.context.thresholds
    numbers: dict[tuple[str, str], int] = {}
    sources: list[ThresholdSource] = []
    rows = []
    for c in check.complications:
        cited = thresholds.rule(c.rule).citations if c.rule in thresholds else ()
        mine = []
        for citation in cited:
            key = (c.rule, citation.text)
            if key not in numbers:
                numbers[key] = len(sources) + 1
                sources.append(ThresholdSource(numbers[key], c.rule, citation.text,
                                               citation.url, citation.confidence))
            mine.append(numbers[key])
        rows.append(ComplicationRow(
            c.severity.label, c.rule, titles.get(c.rule, c.rule), c.item_id or "",
            tuple(c.structures), c.message, float(c.value), float(c.threshold), c.unit,
            tuple(mine), c.rule in case.plan.thresholds))
    return tuple(rows), tuple(sources)


def _deformations(check: CheckResult) -> tuple[DeformationRow, ...]:
    """One row per strained structure, with the force and pressure of the instrument that
    pushes it (when one does)."""
    pushers = {f.contact_structure: f for f in check.context.instruments.values()
               if f.contact_structure is not None}
    rows = []
    for strain in check.context.strains:
        pusher = pushers.get(strain.structure)
        rows.append(DeformationRow(
            strain.structure, strain.tissue, float(strain.max_principal_strain),
            "" if pusher is None else pusher.placement.id,
            None if pusher is None else pusher.contact_force_n,
            None if pusher is None else pusher.contact_pressure_mmhg))
    return tuple(sorted(rows, key=lambda r: -r.peak_strain))


def _attempt(number: int, run: RehearsalRun) -> AttemptRow:
    m = run.metrics
    return AttemptRow(
        number, run.id, run.instrument, run.trainee, readable_time(run.started),
        float(m.time_s),
        float(m.path_length_mm), m.economy_of_motion, m.smoothness_ldlj, float(m.idle_ratio),
        m.tip_error_mm, m.angular_deviation_deg, float(run.composite_score), run.passed,
        tuple(s.name for s in run.safety if not s.passed))


def _provenance(case: Case, identify: bool) -> ProvenanceSection:
    p, source = case.provenance, case.provenance.source
    content = str(source.get("content_sha256") or "")
    details = [
        ("Case reference", identity.case_reference(case)),
        ("Source", str(source.get("source") or "-") if identify else WITHHELD),
        ("Study UID", str(source.get("study_uid") or "-") if identify else WITHHELD),
        ("Voxel content SHA-256", content or "-"),
        ("Case author", p.author),
        ("Case created", readable_time(p.created)),
        ("Case modified", readable_time(p.modified)),
        ("Case software version", p.software_version),
        ("Report software version", __version__),
        ("Plan thresholds", "overridden by the plan: " + ", ".join(case.plan.thresholds)
         if case.plan.thresholds else "the shipped table (data/risk_thresholds.json)"),
    ]
    steps = tuple((s.name, readable_time(s.timestamp), _parameters(s.parameters, identify))
                  for s in p.steps)
    return ProvenanceSection(tuple(details), steps)


def _parameters(parameters: dict[str, Any], identify: bool) -> str:
    """Step parameters as ``key=value`` text (file names withheld unless identified)."""
    parts = []
    for key, value in parameters.items():
        if key in PATH_PARAMETERS and not identify:
            value = "withheld"
        text = value if isinstance(value, str) else repr(value)
        parts.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
    return ", ".join(parts)
