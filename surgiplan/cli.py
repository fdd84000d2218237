"""The ``surgiplan`` command line: the same core as the app, for people and for scripts.

Bad input always ends with exit code 2 and one line on stderr naming the problem and the way
out; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from surgiplan import __version__
from surgiplan.cli_case import add_case_commands
from surgiplan.cli_common import (
    add_recipe_arguments,
    check_writable,
    load_source,
    recipe_from_args,
    select_series,
)
from surgiplan.cli_output import (
    ProgressBar,
    scan_json,
    scan_table,
    twin_table,
    volume_summary,
)
from surgiplan.cli_rehearse import add_rehearse_command
from surgiplan.cli_report import add_report_command
from surgiplan.errors import Cancelled, InputError, SurgiPlanError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and the contract's exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"surgiplan: error: {message} (see surgiplan --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _cmd_scan(args: argparse.Namespace) -> int:
    from surgiplan.imaging import scan_folder

    result = scan_folder(args.folder, progress=ProgressBar())
    if args.json:
        json.dump(scan_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(scan_table(result))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from surgiplan.imaging import load_series, scan_folder, write_volume
    from surgiplan.imaging.export import volume_suffix

    volume_suffix(args.output)
    check_writable(Path(args.output))
    progress = ProgressBar()
    result = scan_folder(args.folder, progress=progress)
    candidate = select_series(result, args.series)
    volume = load_series(candidate, progress=progress)
    for warning in volume.warnings:
        print(f"warning [{warning.code}]: {warning.message}")
    write_volume(volume, args.output)
    print(f"imported series {candidate.index} -> {args.output}")
    print(volume_summary(volume))
    return 0


def _cmd_twin(args: argparse.Namespace) -> int:
    from surgiplan.segmentation.recipe import run_recipe
    from surgiplan.twin.builder import build_twin
    from surgiplan.twin.outputs import twin_summary, write_twin

    recipe = recipe_from_args(args)
    progress = ProgressBar()
    volume = load_source(args.source, args.series, progress)
    segmentation = run_recipe(volume, recipe, progress=progress)
    twin = build_twin(segmentation.labelmap, regions=segmentation.regions, progress=progress)
    outputs = write_twin(twin, Path(args.output), notes=segmentation.notes,
                         mesh_format=f".{args.mesh_format}")
    if args.json:
        json.dump({"structures": twin_summary(twin)["structures"]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(twin_table(twin))
        for note in twin_summary(twin, segmentation.notes)["notes"]:
            print(f"note: {note}")
        print(f"written to {outputs.folder}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from surgiplan.demo import run_demo

    return run_demo(Path(args.output), progress=ProgressBar())


def _cmd_app(args: argparse.Namespace) -> int:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM")):
        raise InputError("no display to open the window on: run it in a desktop session "
                         "(or under xvfb-run)")
    target = getattr(args, "folder", None) or getattr(args, "case", None)
    path = Path(target) if target else None
    if path is not None and not path.exists():
        raise InputError(f"no such file or folder: {path} (check the path)")
    if path is not None and path.is_file() and not path.name.endswith(".surgiplan"):
        raise InputError(f"{path} is not a case file: give a .surgiplan file or a DICOM folder")
    from surgiplan.ui.app import run_app

    return run_app(path)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``surgiplan`` command."""
    parser = _Parser(prog="surgiplan", description="SurgiPlan: plan surgery on a 3D twin.")
    parser.add_argument("--version", action="version", version=f"surgiplan {__version__}")
    parser.set_defaults(run=_cmd_app)  # no command: the desktop app
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    scan = commands.add_parser("scan", help="list the DICOM series in a folder")
    scan.add_argument("folder", help="folder holding the scan (searched recursively)")
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.set_defaults(run=_cmd_scan)

    imp = commands.add_parser("import", help="import one series as a NIfTI or NRRD volume")
    imp.add_argument("folder", help="folder holding the scan (searched recursively)")
    imp.add_argument("--series", help="series index (from 'scan') or SeriesInstanceUID")
    imp.add_argument("--output", required=True, help="output file: .nii, .nii.gz or .nrrd")
    imp.set_defaults(run=_cmd_import)

    twin = commands.add_parser("twin", help="build the patient twin: structures, meshes, volumes")
    add_recipe_arguments(twin)
    twin.add_argument("--output", required=True, help="folder for meshes, labels and summary")
    twin.add_argument("--mesh-format", choices=("stl", "obj", "ply", "glb"), default="stl",
                      help="format of the per-structure meshes (default: binary STL)")
    twin.add_argument("--json", action="store_true", help="print the structures as JSON")
    twin.set_defaults(run=_cmd_twin)

    add_case_commands(commands)
    add_rehearse_command(commands)
    add_report_command(commands)

    app = commands.add_parser("app", help="open the desktop application")
    app.add_argument("folder", nargs="?", help="DICOM folder to scan (or case to open) on start")
    app.set_defaults(run=_cmd_app)

    gui = commands.add_parser("gui", help="open the desktop application (same as no command)")
    gui.add_argument("case", nargs="?", help="case file (.surgiplan) or DICOM folder to open")
    gui.set_defaults(run=_cmd_app)

    demo = commands.add_parser("demo", help="run the whole pipeline on the bundled sample case")
    demo.add_argument("--output", default="surgiplan-demo",
                      help="folder for the demo's results (default: ./surgiplan-demo)")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``surgiplan`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("VTK_SMP_BACKEND_IN_USE", "STDThread")  # VTK filters on every core
    try:
        return args.run(args)
    except Cancelled as exc:
        print(f"surgiplan: {exc}", file=sys.stderr)
        return 130
    except SurgiPlanError as exc:
        print(f"surgiplan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("surgiplan: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("surgiplan: error: not enough memory for this series (close other programs or "
              "import a smaller series)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("SURGIPLAN_DEBUG"):
            raise
        first_line = (str(exc).splitlines() or [""])[0][:200]
        print(f"surgiplan: error: could not complete '{args.command}': {type(exc).__name__}: "
              f"{first_line} (set SURGIPLAN_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
