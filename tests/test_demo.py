"""``surgiplan demo`` runs the pipeline on the bundled sample case."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from surgiplan.cli import main
from surgiplan.demo import repository_data_dir


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run ``surgiplan demo`` once; return its output folder and what it printed."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--output", str(folder)]) == 0
    return folder, printed.getvalue()


def test_demo_imports_the_sample_case_where_its_ground_truth_says(demo_run):
    tmp_path, out = demo_run
    assert "Phantom" not in out and "SP-PHANTOM" not in out  # de-identified
    image = nib.load(tmp_path / "sample_volume.nii.gz")
    case = repository_data_dir() / "sample_case"
    facts = json.loads((case / "facts.json").read_text())
    labels = nib.load(case / "labels.nii.gz")
    np.testing.assert_allclose(image.affine, labels.affine, atol=1e-4)
    ct = np.asarray(image.dataobj)
    label = np.asarray(labels.dataobj)
    tumour_id = int(next(k for k, v in facts["labels"].items() if v == "tumour"))
    liver_id = int(next(k for k, v in facts["labels"].items() if v == "liver"))
    assert abs(np.mean(ct[label == tumour_id]) - facts["hu"]["tumour"]) < 10
    assert abs(np.mean(ct[label == liver_id]) - facts["hu"]["liver"]) < 10


def test_demo_builds_the_phantom_twin_within_two_percent_of_ground_truth(demo_run):
    tmp_path, _ = demo_run
    summary = json.loads((tmp_path / "twin" / "summary.json").read_text())
    facts = json.loads((repository_data_dir() / "sample_case" / "facts.json").read_text())
    rows = {row["name"]: row for row in summary["structures"]}
    assert {"skin", "liver", "tumour", "portal_vein", "aorta", "kidney_left"} <= set(rows)
    for name, row in rows.items():
        assert row["watertight"], name
        truth = (sum(s["volume_ml"] for s in facts["structures"].values()) if name == "skin"
                 else facts["structures"][name]["volume_ml"])
        assert abs(row["volume_ml"] / truth - 1) < 0.02, name
    assert rows["liver"]["tet_nodes"] >= 2000 and rows["spine"]["tet_nodes"] == 0
    assert (tmp_path / "twin" / "twin.glb").is_file()


def test_demo_saves_a_case_with_the_sample_plan(demo_run):
    from surgiplan.case.case_file import load_case
    from surgiplan.plan.trajectory import analyse_trajectory

    tmp_path, _ = demo_run
    case = load_case(tmp_path / "sample.surgiplan")
    facts = json.loads((repository_data_dir() / "sample_case" / "facts.json").read_text())
    needle = case.plan.instruments["needle-1"]
    np.testing.assert_allclose(needle.target_lps_mm, facts["tumour"]["centre_lps_mm"])
    trajectory = analyse_trajectory(case.twin, needle.entry_lps_mm, needle.target_lps_mm)
    crossed = {c.structure for c in trajectory.crossings}
    assert "tumour" in crossed and not crossed & {"portal_vein", "hepatic_veins", "ribs",
                                                    "aorta", "vena_cava"}
    assert list(case.plan.incisions) == ["subcostal-1"]
    markups = json.loads((tmp_path / "plan.mrk.json").read_text())
    assert {m["type"] for m in markups["markups"]} == {"Curve", "Line"}


def test_demo_check_flags_the_grazing_needle_only(demo_run):
    _, printed = demo_run
    check = printed.split("check of the sample plan:", 1)[1].split("scripted rehearsal", 1)[0]
    assert "safety_margin [needle-2]" in check and "portal vein" in check
    assert "needle-1" not in check
    assert "CRITICAL" not in check


def test_demo_rehearses_the_planned_approach_and_keeps_the_run(demo_run):
    from surgiplan.case.case_file import load_case
    from surgiplan.rehearsal.codec import case_runs

    folder, printed = demo_run
    rehearsal = printed.split("scripted rehearsal of needle-1's planned approach:", 1)[1]
    assert "tip error            0.00 mm" in rehearsal
    assert rehearsal.count("PASS ") == 4 and "result: PASS" in rehearsal
    runs = case_runs(load_case(folder / "sample.surgiplan"))
    assert [run.instrument for run in runs] == ["needle-1"] and runs[0].passed


def test_demo_ends_with_the_plan_report(demo_run):
    """The demo's last step leaves a PDF a person can open, naming the case's structures."""
    import shutil
    import subprocess

    folder, printed = demo_run
    pdf = folder / "plan_report.pdf"
    assert f"plan report: {pdf}" in printed
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert (folder / "plan_report.html").is_file()
    assert (folder / "plan_report-export" / "twin.glb").is_file()
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    text = " ".join(text.split())
    for name in ("skin", "liver", "tumour", "portal_vein", "hepatic_veins", "aorta",
                 "vena_cava", "kidney_left", "kidney_right", "spleen", "spine", "ribs",
                 "needle-1", "needle-2", "subcostal-1"):
        assert name in text, name
    assert "6. Rehearsal" in text and "demo" in text  # the scripted attempt is reported
