"""``write_report``: check the plan, build the report model, render, typeset, export.

One entry point for the command line (``surgiplan report``), the demo and the app's export
action. Steps: the plan check (as ``surgiplan check``), the clearance along each instrument's
path, the model (de-identified unless asked), the pictures (off-screen views and charts), the
PDF, optionally the HTML and the export bundle. Every file is written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from surgiplan.case.model import Case
from surgiplan.errors import OutputError
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.progress import ProgressCallback, report
from surgiplan.rehearsal import case_runs
from surgiplan.report import identity
from surgiplan.report.build import ModelOptions, build_model
from surgiplan.report.bundle import BundleResult, write_bundle
from surgiplan.report.document import report_blocks
from surgiplan.report.html import write_html
from surgiplan.report.model import ReportModel
from surgiplan.report.pdf import write_pdf
from surgiplan.report.pictures import PICTURE_SIZE, chart_pictures, twin_pictures
from surgiplan.report.profiles import distance_profile
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import check_case

HTML_SUFFIXES = (".html", ".htm")
STAGES = ("Checking the plan", "Measuring the paths", "Rendering the views", "Drawing charts",
          "Writing the PDF", "Writing the HTML", "Writing the export bundle")


@dataclass(frozen=True)
class ReportOptions:
    """Choices of a report.

    Attributes
    ----------
    title : str, optional
        Cover title ("Surgical plan report" by default).
    author : str, optional
        Who makes the report (the case's author by default).
    identify : bool
        Show the patient identifiers the case holds on the cover. Off by default: the report
        names the patient by a reference derived from the scan.
    picture_size : (width, height)
        Pixels of each rendered view.
    date : str, optional
        Report date (ISO 8601; now by default).
    keep_face : bool
        On a head or neck scan, keep the surfaces that can show the patient's face (body
        outline, fat, muscle) in the pictures and the bundle; they are left out by default
        (:func:`~surgiplan.report.identity.face_surfaces`).
    case_title : str, optional
        The case's name on the cover (the CLI and the app give the case file's name; the
        series description by default). Identifying values are removed from it like from any
        text unless ``identify``.
    """

    title: str | None = None
    author: str | None = None
    identify: bool = False
    picture_size: tuple[int, int] = PICTURE_SIZE
    date: str | None = None
    case_title: str | None = None
    keep_face: bool = False


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote and what the report holds."""

    pdf: Path
    pages: int
    model: ReportModel
    html: Path | None = None
    bundle: BundleResult | None = None
    pictures: int = 0
    files: list[Path] = field(default_factory=list)

    def to_json(self) -> dict:
        """Files written and counts (the ``surgiplan report --json`` object)."""
        return {
            "pdf": str(self.pdf), "html": None if self.html is None else str(self.html),
            "bundle": None if self.bundle is None else str(self.bundle.folder),
            "files": [str(p) for p in self.files], "pages": self.pages,
            "structures": len(self.model.structures),
            "instruments": len(self.model.instruments),
            "incisions": len(self.model.incisions),
            "complications": len(self.model.complications),
            "rehearsal_attempts": len(self.model.attempts), "pictures": self.pictures,
            "patient_reference": self.model.cover.patient_reference,
            "identified": self.model.identified,
            "face_left_out": list(self.model.face_hidden),
        }


def check_output_paths(pdf_path: str | os.PathLike[str],
                       html_path: str | os.PathLike[str] | None = None) -> None:
    """Refuse outputs that cannot be written before any work starts (:class:`OutputError`)."""
    pdf = Path(pdf_path)
    if pdf.suffix.lower() != ".pdf":
        raise OutputError(f"the report must be a .pdf file, got {pdf}: give a name ending "
                          "in .pdf")
    if html_path is not None and Path(html_path).suffix.lower() not in HTML_SUFFIXES:
        raise OutputError(f"the HTML report must end in .html, got {html_path}")
    for path in (pdf, None if html_path is None else Path(html_path)):
        if path is None:
            continue
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {path}: folder {folder} does not exist; create "
                              "it first")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write {path}: folder {folder} is not writable")
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder")


def _stage(progress: ProgressCallback | None, index: int) -> ProgressCallback | None:
    """A progress callback for stage ``index`` mapped onto the whole report's bar."""
    if progress is None:
        return None
    scale = 100

    def forward(done: int, total: int, label: str) -> bool | None:
        share = done / total if total else 0.0
        return progress(int(index * scale + share * scale), len(STAGES) * scale, label)

    return forward


def write_report(case: Case, pdf_path: str | os.PathLike[str], *,
                 html_path: str | os.PathLike[str] | None = None,
                 bundle_dir: str | os.PathLike[str] | None = None,
                 options: ReportOptions | None = None, catalogue: Catalogue | None = None,
                 progress: ProgressCallback | None = None) -> ReportResult:
    """Write the plan report of ``case`` as PDF (and HTML, and the export bundle).

    Parameters
    ----------
    case : Case
        Scan, twin, plan, rehearsal runs and provenance; not changed.
    pdf_path : path-like
        The PDF (``.pdf``), replaced atomically when it exists.
    html_path : path-like, optional
        Also write the same report as one self-contained HTML file.
    bundle_dir : path-like, optional
        Also write the export bundle there (see :mod:`surgiplan.report.bundle`).
    options : ReportOptions, optional
        Title, author, identifiers, picture size.
    catalogue : Catalogue, optional
        Instrument catalogue (the shipped one by default).
    progress : callable, optional
        ``(done, total, label) -> bool | None``; ``False`` cancels (:class:`Cancelled`).

    Returns
    -------
    ReportResult

    Raises
    ------
    OutputError
        An output is not a ``.pdf``/``.html`` name or cannot be written.
    """
    options = options or ReportOptions()
    check_output_paths(pdf_path, html_path)
    catalogue = catalogue or load_catalogue()
    cache = SimulationCache()
    check = check_case(case, catalogue=catalogue, cache=cache, progress=_stage(progress, 0))
    world = cache.world_for(case.twin)
    placements = list(case.plan.instruments.values())
    profiles = []
    for done, placement in enumerate(placements):
        report(_stage(progress, 1), done, len(placements), f"Measuring {placement.id}")
        found = distance_profile(case, placement, world, catalogue)
        if found is not None:
            profiles.append(found)
    runs = case_runs(case)
    model = build_model(case, check, profiles, runs, catalogue, ModelOptions(
        options.title, options.author, options.date, options.identify,
        case_title=options.case_title))
    hidden = () if options.keep_face else identity.face_surfaces(case)
    model = replace(model, face_hidden=tuple(hidden))
    pictures = twin_pictures(case, check, catalogue, size=options.picture_size, hidden=hidden,
                             progress=_stage(progress, 2))
    report(_stage(progress, 3), 0, 1, "Drawing the charts")
    pictures += chart_pictures(case, check, profiles, runs)
    if not options.identify:
        pictures = identity.scrubbed(pictures, identity.identifying_values(case))
    blocks = report_blocks(model, pictures)
    report(_stage(progress, 4), 0, 1, "Writing the PDF")
    pdf = write_pdf(model, blocks, pdf_path)
    files = [pdf.path]
    html = None
    if html_path is not None:
        report(_stage(progress, 5), 0, 1, "Writing the HTML")
        html = write_html(model, blocks, html_path)
        files.append(html)
    bundle = None
    if bundle_dir is not None:
        bundle = write_bundle(case, check, bundle_dir, keep_face=options.keep_face,
                              progress=_stage(progress, 6))
        files += bundle.all_files()
    report(progress, len(STAGES), len(STAGES), "Report written")
    return ReportResult(pdf.path, pdf.pages, model, html, bundle, len(pictures), files)
