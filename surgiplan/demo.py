"""``surgiplan demo``: the whole pipeline that exists so far, on the bundled sample case."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from surgiplan.errors import OutputError
from surgiplan.paths import data_dir
from surgiplan.progress import ProgressCallback
from surgiplan.sample_case import apply_sample_plan, sample_recipe

SAMPLE_CASE = "sample_case"


def repository_data_dir() -> Path:
    """``data/`` of the source checkout this package runs from."""
    return data_dir()


def sample_case_dir(*, progress: ProgressCallback | None = None) -> Path:
    """Folder of the sample case: the committed copy, or one generated into the user cache.

    The committed ``data/sample_case`` is used when the package runs from a checkout; an
    installed package without it generates the same phantom (deterministic seed) once.
    """
    bundled = repository_data_dir() / SAMPLE_CASE
    if (bundled / "dicom").is_dir() and (bundled / "facts.json").is_file():
        return bundled
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "surgiplan"
    target = cache / SAMPLE_CASE
    if not (target / "facts.json").is_file():
        from surgiplan.phantom import generate_phantom

        print(f"generating the sample case into {target} ...")
        target.mkdir(parents=True, exist_ok=True)
        generate_phantom(target)
    return target


def _tumour_check(volume, facts: dict) -> str:
    tumour = facts.get("tumour") or {}
    centre = tumour.get("centre_lps_mm")
    if centre is None:
        return "tumour: no ground truth in facts.json"
    ijk = np.rint(volume.lps_to_ijk([centre])[0]).astype(int)
    i, j, k = ijk
    patch = volume.voxels[max(k - 1, 0):k + 2, max(j - 2, 0):j + 3, max(i - 2, 0):i + 3]
    expected = (facts.get("hu") or {}).get("tumour")
    hint = f" (ground truth {expected} HU)" if expected is not None else ""
    position = ", ".join(f"{v:.1f}" for v in centre)
    return f"tumour centre LPS ({position}) mm: mean {float(np.mean(patch)):.0f} HU{hint}"


def run_demo(output: Path, *, progress: ProgressCallback | None = None) -> int:
    """Scan and import the sample case, print a summary, write the volume; return exit code."""
    from surgiplan.cli_output import volume_summary
    from surgiplan.imaging import load_series, scan_folder, write_volume

    case = sample_case_dir(progress=progress)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the demo folder {output}: {exc.strerror}") from exc
    print(f"sample case: {case}")
    result = scan_folder(case / "dicom", progress=progress)
    print(f"scan: {len(result.series)} series, {len(result.skipped)} file(s) skipped")
    candidate = result.volumes()[0]
    volume = load_series(candidate, progress=progress)
    print(volume_summary(volume))
    facts = json.loads((case / "facts.json").read_text())
    print(_tumour_check(volume, facts))
    written = write_volume(volume, output / "sample_volume.nii.gz")
    print(f"volume written: {written}")
    _demo_case(volume, case, facts, output, progress)
    return 0


def _demo_case(volume, case_dir: Path, facts: dict, output: Path,
               progress: ProgressCallback | None) -> None:
    """Twin (organs from the phantom's label map, as an AI model would give them, and the body
    outline from the CT), a sample plan, the case file and Slicer markups."""
    from surgiplan.case.case_file import save_case
    from surgiplan.case.create import create_case
    from surgiplan.twin.outputs import write_twin

    case = create_case(volume, sample_recipe(case_dir, facts), source=str(case_dir / "dicom"),
                       progress=progress)
    outputs = write_twin(case.twin, output / "twin")
    print(_twin_report(case.twin, facts))
    print(f"twin written: {outputs.folder} (meshes/, twin.glb, labels.nii.gz, summary.json)")
    _demo_plan(case, facts, output)
    _demo_rehearsal(case)
    saved = save_case(case, output / "sample.surgiplan")
    print(f"case saved: {saved}")
    _demo_report(case, output, progress)


def _demo_report(case, output: Path, progress: ProgressCallback | None) -> None:
    """The sample case's plan report: PDF, HTML and the export bundle."""
    from surgiplan.report import write_report

    result = write_report(case, output / "plan_report.pdf",
                          html_path=output / "plan_report.html",
                          bundle_dir=output / "plan_report-export", progress=progress)
    print(f"plan report: {result.pdf} ({result.pages} pages; open it with any PDF viewer)")
    print(f"plan report (HTML): {result.html}")
    print(f"export bundle: {result.bundle.folder} (meshes STL/OBJ/glTF, labels.nii.gz, "
          "plan.mrk.json, plan.json)")


def _demo_rehearsal(case) -> None:
    """A scripted attempt that follows needle-1's planned path, scored and kept in the case."""
    from surgiplan.cli_rehearse import run_text
    from surgiplan.rehearsal.codec import store_in_case
    from surgiplan.rehearsal.run import record_run
    from surgiplan.rehearsal.script import planned_approach

    run = record_run(case, planned_approach(case.plan.instruments["needle-1"]),
                     trainee="demo")
    store_in_case(case, run)
    print("scripted rehearsal of needle-1's planned approach:")
    print(run_text(run, 1))


def _demo_plan(case, facts: dict, output: Path) -> None:
    from surgiplan.cli_output import incision_line, trajectory_line
    from surgiplan.plan.markups import trajectories_from_plan, write_markups

    check = apply_sample_plan(case, facts)
    for item_id, trajectory in check.trajectories.items():
        print(f"plan: {trajectory_line(item_id, trajectory)}")
    for item_id, path in check.incisions.items():
        print(f"plan: {incision_line(item_id, path)}")
    markups = write_markups(output / "plan.mrk.json", incisions=check.incisions.values(),
                            trajectories=trajectories_from_plan(case.plan))
    print(f"3D Slicer markups: {markups}")
    _demo_check(case)


def _demo_check(case) -> None:
    from surgiplan.cli_case import complications_text
    from surgiplan.simulation.plan_check import check_case

    result = check_case(case)
    print("check of the sample plan:")
    print(complications_text(result.complications))


def _truth_volumes_ml(facts: dict) -> dict[str, float]:
    """Ground-truth volumes; the body outline ("skin" preset) is every labelled voxel."""
    truth = {name: s["volume_ml"] for name, s in facts.get("structures", {}).items()}
    truth["skin"] = sum(truth.values())
    return truth


def _twin_report(twin, facts: dict) -> str:
    truth = _truth_volumes_ml(facts)
    lines = [f"{'structure':<15}{'mesh mL':>10}{'truth mL':>10}{'diff %':>8}{'area cm2':>10}"
             f"{'triangles':>10}{'watertight':>11}{'tet nodes':>10}"]
    for summary in twin.summaries():
        expected = truth.get(summary.name)
        diff = "" if not expected else f"{100 * (summary.volume_ml / expected - 1):+.1f}"
        lines.append(
            f"{summary.name:<15}{summary.volume_ml:>10.1f}"
            f"{'' if expected is None else f'{expected:.1f}':>10}{diff:>8}"
            f"{summary.surface_area_cm2:>10.1f}{summary.triangles:>10}"
            f"{'yes' if summary.watertight else 'NO':>11}{summary.tet_nodes:>10}"
        )
    return "\n".join(lines)

