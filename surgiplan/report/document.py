"""The report as a sequence of layout-neutral blocks, read by the PDF and the HTML writers.

:func:`report_blocks` decides the content and its order once (sections, sentences, tables,
pictures); :mod:`surgiplan.report.pdf` and :mod:`surgiplan.report.html` only typeset the
blocks, so the two versions always say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from surgiplan.report.model import ReportModel
from surgiplan.report.pictures import Picture

SEVERITY_COLOURS = {"critical": "#f6c9c4", "warning": "#fde3b0", "info": "#dbe7f3"}
"""Row background of a complication by severity."""
PASS_COLOUR, FAIL_COLOUR = "#d5efd9", "#f6c9c4"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Text:
    """A paragraph; ``style`` is ``"body"``, ``"note"`` or ``"disclaimer"``."""

    text: str
    style: str = "body"


@dataclass(frozen=True)
class KeyValues:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A table: header, rows of cell texts, relative column widths, an optional background
    per row (hex colour or ``None``) and a swatch colour per row drawn in column 0."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    row_colours: tuple[str | None, ...] = ()
    swatches: tuple[str, ...] = ()
    numeric: tuple[int, ...] = ()
    """Columns aligned right."""


@dataclass(frozen=True)
class Figures:
    """Pictures side by side (one per row when alone), each with its title and caption."""

    pictures: tuple[Picture, ...]


@dataclass(frozen=True)
class PageBreak:
    pass


@dataclass(frozen=True)
class Title:
    """The cover's title block."""

    text: str
    subtitle: str = ""


Block = Heading | Text | KeyValues | Table | Figures | PageBreak | Title


def number(value: float | None, digits: int = 1, unit: str = "") -> str:
    """``value`` with ``digits`` decimals and a unit, or ``"-"`` for ``None``."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" + (f" {unit}" if unit else "")


def point(value: Sequence[float] | None) -> str:
    return "-" if value is None else "(" + ", ".join(f"{v:.1f}" for v in value) + ")"


def hex_colour(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(255 * min(max(c, 0.0), 1.0))):02x}" for c in rgb)


@dataclass
class _Builder:
    model: ReportModel
    pictures: dict[str, Picture]
    blocks: list[Block] = field(default_factory=list)
    sections: int = 0

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def section(self, title: str) -> Heading:
        """The next numbered section heading."""
        self.sections += 1
        return Heading(f"{self.sections}. {title}")

    def figures(self, *keys: str) -> None:
        found = tuple(self.pictures[k] for k in keys if k in self.pictures)
        if found:
            self.add(Figures(found))


def report_blocks(model: ReportModel, pictures: Sequence[Picture]) -> list[Block]:
    """The report's content in reading order (see the module docstring)."""
    builder = _Builder(model, {p.key: p for p in pictures})
    for section in (_cover, _scan, _twin, _plan, _complications, _deformation, _rehearsal,
                    _provenance):
        section(builder)
    return builder.blocks


def _cover(b: _Builder) -> None:
    c = b.model.cover
    rows = [("Case", c.case_title), ("Patient reference", c.patient_reference),
            *c.identifiers]
    if not c.identifiers:
        rows.append(("Patient identifiers", "not shown (de-identified report)"))
    rows += [("Date", c.date), ("Author", c.author),
             ("Software", f"SurgiPlan {c.software_version}")]
    b.add(Title(c.title, "Patient-specific surgical plan on a 3D digital twin"),
          KeyValues(tuple(rows)), Text(c.disclaimer, "disclaimer"))
    b.figures("anterior")
    b.add(PageBreak())


def _scan(b: _Builder) -> None:
    scan = b.model.scan
    b.add(b.section("Scan"), KeyValues(scan.details))
    if scan.warnings:
        b.add(Heading("Import warnings", 2),
              Table(("Code", "Warning"), scan.warnings, (0.25, 0.75)))
    else:
        b.add(Text("The import raised no warnings.", "note"))


def _twin(b: _Builder) -> None:
    rows = tuple((s.name, s.tissue, "yes" if s.critical else "", number(s.volume_ml),
                  number(s.surface_area_cm2), str(s.triangles), "yes" if s.watertight else "NO")
                 for s in b.model.structures)
    b.add(b.section("Digital twin"),
          Text(f"{len(rows)} structures, meshed from the segmentation (volumes and areas of the "
               "surface meshes)."),
          Table(("Structure", "Tissue", "Critical", "Volume (mL)", "Surface (cm2)", "Triangles",
                 "Watertight"), rows, (0.22, 0.14, 0.1, 0.14, 0.14, 0.13, 0.13),
                swatches=tuple(hex_colour(s.colour) for s in b.model.structures),
                numeric=(3, 4, 5)))
    if b.model.face_hidden:
        b.add(Text(f"Left out of the pictures and the export: {', '.join(b.model.face_hidden)} "
                   "(on a head or neck scan its surface can show the patient's face).", "note"))
    b.figures("lateral", "approach")


def _plan(b: _Builder) -> None:
    model = b.model
    b.add(PageBreak(), b.section("Plan"))
    if model.incisions:
        b.add(Heading("Incisions", 2), Table(
            ("Incision", "Structure", "Length (mm)", "Depth (mm)", "Points"),
            tuple((i.id, i.structure, number(i.length_mm), number(i.depth_mm), str(i.points))
                  for i in model.incisions), (0.24, 0.22, 0.2, 0.18, 0.16), numeric=(2, 3, 4)))
    else:
        b.add(Text("The plan has no incisions.", "note"))
    if model.landmarks:
        b.add(Heading("Landmarks", 2), Table(
            ("Landmark", "Label", "Position (LPS mm)"),
            tuple((i, label or "-", point(p)) for i, label, p in model.landmarks),
            (0.2, 0.45, 0.35)))
    if not model.instruments:
        b.add(Text("The plan has no instruments.", "note"))
        return
    b.add(Heading("Instruments and trajectories", 2), Table(
        ("Instrument", "Type", "Entry (LPS mm)", "Target (LPS mm)", "Path (mm)",
         "Angle to skin", "Target structure", "Closest critical"),
        tuple((i.id, i.instrument_name, point(i.entry_lps_mm), point(i.target_lps_mm),
               number(i.path_length_mm), number(i.angle_to_skin_deg, 0, "deg"),
               i.target_structure or "-", i.closest or "-") for i in model.instruments),
        (0.11, 0.14, 0.15, 0.15, 0.08, 0.08, 0.12, 0.17), numeric=(4,)))
    for row in model.instruments:
        crossed = "; ".join(row.crossed) or "no structure"
        tip = f" Tip: {row.tip}." if row.tip else ""
        b.add(Heading(f"{row.id}: {row.instrument_name}", 3),
              Text(f"Path crosses: {crossed}.{tip}"))
        b.figures(f"along:{row.id}", f"distance:{row.id}")


def _complications(b: _Builder) -> None:
    model = b.model
    b.add(b.section("Complications"))
    if not model.complications:
        b.add(Text("The plan check flagged no complication."))
        return
    counts = {s: sum(c.severity == s for c in model.complications)
              for s in ("critical", "warning", "info")}
    b.add(Text(f"The plan check flagged {len(model.complications)} complication(s): "
               + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + "."))
    rows = tuple((c.severity.upper(), c.item_id or "-", ", ".join(c.structures) or "-",
                  c.message, f"{c.value:.4g} {c.unit}", f"{c.threshold:.4g} {c.unit}",
                  _source_text(c)) for c in model.complications)
    b.add(Table(("Severity", "Item", "Structures", "Finding", "Measured", "Threshold",
                 "Source"), rows, (0.11, 0.1, 0.12, 0.3, 0.1, 0.11, 0.16),
                row_colours=tuple(SEVERITY_COLOURS.get(c.severity) for c in
                                  model.complications), numeric=(4, 5)))
    if model.sources:
        b.add(Heading("Threshold sources", 2))
        for s in model.sources:
            b.add(Text(f"[{s.number}] {s.rule} (confidence {s.confidence}): {s.text} {s.url}",
                       "note"))


def _source_text(c) -> str:
    cited = " ".join(f"[{n}]" for n in c.sources) or "-"
    rule = f"{c.rule_title} ({c.rule})"
    return f"{rule} {cited}" + (", thresholds overridden by the plan" if c.overridden else "")


def _deformation(b: _Builder) -> None:
    model = b.model
    b.add(b.section("Deformation"))
    if not model.deformations:
        b.add(Text("No instrument of the plan pushes tissue (no retractor or grasper in "
                   "contact), so no deformation was simulated: peak strain, force and "
                   "pressure are zero."))
        return
    b.add(KeyValues((("Peak principal strain", number(model.peak_strain, 3)),
                     ("Peak contact force", number(model.peak_force_n, 1, "N")),
                     ("Peak retraction pressure", number(model.peak_pressure_mmhg, 1, "mmHg")))),
          Table(("Structure", "Tissue", "Peak strain", "Instrument", "Force (N)",
                 "Pressure (mmHg)"),
                tuple((d.structure, d.tissue, number(d.peak_strain, 3), d.instrument or "-",
                       number(d.force_n), number(d.pressure_mmhg)) for d in model.deformations),
                (0.2, 0.16, 0.14, 0.18, 0.14, 0.18), numeric=(2, 4, 5)))


def _rehearsal(b: _Builder) -> None:
    attempts = b.model.attempts
    if not attempts:
        return
    colours = tuple(PASS_COLOUR if a.passed else FAIL_COLOUR for a in attempts)
    b.add(PageBreak(), b.section("Rehearsal"),
          Text(f"{len(attempts)} attempt(s), {sum(a.passed for a in attempts)} passed every "
               "safety metric. Only the safety metrics decide a pass; the composite score is "
               "for information."),
          Table(("#", "Instrument", "Trainee", "Started", "Score", "Safety"),
                tuple((str(a.number), a.instrument, a.trainee, a.started,
                       number(a.composite_score, 0),
                       "PASS" if a.passed else "FAIL: " + ", ".join(a.failed))
                      for a in attempts),
                (0.05, 0.14, 0.16, 0.22, 0.08, 0.35), row_colours=colours, numeric=(4,)),
          Heading("Motion metrics per attempt", 2),
          Table(("#", "Time (s)", "Path (mm)", "Economy", "Smoothness (LDLJ)", "Idle ratio",
                 "Tip error (mm)", "Angle error (deg)"),
                tuple((str(a.number), number(a.time_s), number(a.path_length_mm),
                       number(a.economy_of_motion, 2), number(a.smoothness_ldlj, 2),
                       number(a.idle_ratio, 2), number(a.tip_error_mm, 2),
                       number(a.angular_deviation_deg, 1)) for a in attempts),
                (0.05, 0.11, 0.12, 0.11, 0.16, 0.12, 0.15, 0.18), row_colours=colours,
                numeric=tuple(range(1, 8))))
    b.figures("progress")


def _provenance(b: _Builder) -> None:
    p = b.model.provenance
    b.add(b.section("Provenance"), KeyValues(p.details))
    if p.steps:
        b.add(Heading("Processing steps", 2),
              Table(("Step", "Time", "Parameters"), p.steps, (0.14, 0.23, 0.63)))
    if not b.model.identified:
        b.add(Text("De-identified report: patient name, ID, birth date, UIDs and source file "
                   "names are left out; the patient reference is derived from the scan.",
                   "note"))
