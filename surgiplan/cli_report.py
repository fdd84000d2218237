"""``surgiplan report CASE --output plan.pdf``: the plan report as PDF (and HTML), headless.

Exit 0 when written; 2 with one line on bad input (missing or damaged case, an output that
is not a ``.pdf``, a folder that cannot be written). Patient identifiers appear only with
``--identify``; nothing identifying is ever printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from surgiplan.cli_output import ProgressBar

BUNDLE_SUFFIX = "-export"
"""``--bundle`` without a folder: ``<report name>-export`` beside the PDF."""


def output_paths(args: argparse.Namespace) -> tuple[Path, Path | None, Path | None]:
    """The PDF, the HTML (or ``None``) and the bundle folder (or ``None``) asked for.

    ``--html`` without a name is the PDF's name with ``.html``; ``--bundle`` without a folder
    is ``<PDF name>-export`` beside the PDF.
    """
    pdf = Path(args.output)
    html = None if args.html is None else (
        pdf.with_suffix(".html") if args.html == "" else Path(args.html))
    bundle = None if args.bundle is None else (
        pdf.with_name(pdf.stem + BUNDLE_SUFFIX) if args.bundle == "" else Path(args.bundle))
    return pdf, html, bundle


def _cmd_report(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import load_case
    from surgiplan.report import ReportOptions, check_output_paths, write_report

    pdf, html, bundle = output_paths(args)
    check_output_paths(pdf, html)
    case = load_case(args.case)
    options = ReportOptions(title=args.title, author=args.author, identify=args.identify,
                            keep_face=args.keep_face,
                            case_title=Path(args.case).name.removesuffix(".surgiplan"))
    result = write_report(case, pdf, html_path=html, bundle_dir=bundle, options=options,
                          progress=ProgressBar())
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"report written: {result.pdf} ({result.pages} pages, "
          f"{len(result.model.structures)} structures, {len(result.model.instruments)} "
          f"instruments, {len(result.model.complications)} complications)")
    if result.html is not None:
        print(f"HTML report: {result.html}")
    if result.bundle is not None:
        print(f"export bundle: {result.bundle.folder} ({len(result.bundle.all_files())} files: "
              "meshes STL/OBJ/glTF, labels.nii.gz, plan.mrk.json, plan.json)")
    if not result.model.identified:
        print(f"patient reference {result.model.cover.patient_reference} (de-identified; "
              "--identify shows the identifiers the case holds)")
    return 0


def add_report_command(commands) -> None:
    """Register ``report`` on the top-level subparsers."""
    report = commands.add_parser(
        "report", help="write the plan report (PDF, optionally HTML and an export bundle)",
        description="Write the plan report of a case: cover, scan, twin (structure table and "
                    "pictures), plan (incisions, trajectories, clearance along each path), "
                    "complications, deformation, rehearsal attempts and provenance. "
                    "De-identified unless --identify.")
    report.add_argument("case", help="case file (.surgiplan)")
    report.add_argument("--output", required=True, metavar="PLAN.pdf",
                        help="the PDF to write (replaced atomically if it exists)")
    report.add_argument("--html", nargs="?", const="", metavar="PLAN.html",
                        help="also write the report as one self-contained HTML file "
                             "(default name: the PDF's, with .html); none by default")
    report.add_argument("--bundle", nargs="?", const="", metavar="DIR",
                        help="also export meshes (STL, OBJ, glTF), the label map (NIfTI), "
                             "Slicer markups and the plan JSON into DIR (default folder: "
                             f"<PDF name>{BUNDLE_SUFFIX} beside the PDF); none by default")
    report.add_argument("--author", help="author named on the cover (default: the case's)")
    report.add_argument("--title", help="cover title (default: 'Surgical plan report')")
    report.add_argument("--identify", action="store_true",
                        help="show the patient identifiers the case holds on the cover (left "
                             "out by default; the bundle never holds them)")
    report.add_argument("--keep-face", action="store_true",
                        help="on a head or neck scan, keep the surfaces that can show the "
                             "patient's face (skin, fat, muscle) in the pictures and the bundle "
                             "(left out by default)")
    report.add_argument("--json", action="store_true",
                        help="print the files written and the counts as one JSON object")
    report.set_defaults(run=_cmd_report)
