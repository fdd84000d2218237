"""``surgiplan case create|info`` and ``surgiplan plan --apply``: the case on the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from surgiplan.case.case_file import load_case
from surgiplan.cli import main
from tests.dicom_factory import SeriesSpec, Sphere, write_series

BODY = ((0.0, 0.0, 20.0), 25.0)
LESION = (5.0, -3.0, 20.0)


@pytest.fixture(scope="module")
def case_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    spec = SeriesSpec(rows=64, columns=64, pixel_spacing_mm=(1.0, 1.0),
                      origin_lps_mm=(-32.0, -32.0, -6.0), offsets_mm=tuple(np.arange(52) * 1.0),
                      spheres=[Sphere(*BODY, 40.0), Sphere(LESION, 8.0, 120.0)],
                      patient_name="Secret^Patient")
    write_series(folder / "dicom", spec)
    output = folder / "patient.surgiplan"
    seed = f"tumour:{LESION[0]},{LESION[1]},{LESION[2]}:80,160"
    assert main(["case", "create", str(folder / "dicom"), "--preset", "skin", "--seed", seed,
                 "--output", str(output)]) == 0
    return output


def _plan_file(tmp_path, entry, target, incision_points) -> str:
    plan = {"instruments": [{"id": "needle-1", "type": "biopsy_needle_18g",
                             "entry_lps_mm": entry, "target_lps_mm": target}],
            "incisions": [{"id": "cut-1", "structure": "skin",
                           "points_lps_mm": incision_points}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return str(path)


def test_case_create_saves_a_deidentified_case(case_file, capsys):
    case = load_case(case_file)
    assert set(case.twin.structures) == {"skin", "tumour"}
    assert not case.volume.identity.values
    assert [step.name for step in case.provenance.steps] == ["import", "segmentation", "twin"]
    assert case.provenance.source["content_sha256"]
    assert b"Secret" not in case_file.read_bytes()
    capsys.readouterr()


def test_plan_apply_adds_items_and_info_reports_them(case_file, tmp_path, capsys):
    radius = BODY[1]
    entry = [BODY[0][0] - radius, LESION[1], LESION[2]]  # on the body surface, patient right
    arc = [[BODY[0][0] + radius * np.cos(a), BODY[0][1] - radius * np.sin(a), 20.0]
           for a in (0.3, 0.6, 0.9)]
    plan = _plan_file(tmp_path, entry, list(LESION), arc)
    assert main(["plan", str(case_file), "--apply", plan]) == 0
    out = capsys.readouterr().out
    assert "needle-1" in out and "crosses" in out and "tumour" in out
    case = load_case(case_file)
    assert list(case.plan.instruments) == ["needle-1"] and list(case.plan.incisions) == ["cut-1"]
    assert case.provenance.steps[-1].name == "plan"
    assert main(["case", "info", str(case_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["plan"]["instruments"] == ["needle-1"]
    assert {s["name"] for s in info["structures"]} == {"skin", "tumour"}
    assert main(["case", "info", str(case_file)]) == 0
    assert "needle-1" in capsys.readouterr().out


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "surgiplan.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_impossible_plan_is_refused_and_the_case_left_untouched(case_file, tmp_path):
    before = case_file.read_bytes()
    far_entry = [-200.0, 0.0, 20.0]  # nowhere near the skin
    plan = _plan_file(tmp_path, far_entry, list(LESION), [[0, 0, 0], [1, 1, 1]])
    result = _run("plan", str(case_file), "--apply", plan)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "plan not applied" in lines[0], result.stderr
    assert case_file.read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["case", "info", "/nonexistent.surgiplan"], "no case file"),
    (["plan", "CASE"], "nothing to do"),
    (["plan", "CASE", "--apply", "/nonexistent/plan.json"], "plan"),
])
def test_bad_case_commands_exit_2(case_file, args, message):
    args = [str(case_file) if a == "CASE" else a for a in args]
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
