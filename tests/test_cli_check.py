"""``surgiplan check``: complications of a plan as placed, JSON contract and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from surgiplan.cli import main
from tests.dicom_factory import SeriesSpec, Sphere, write_series

BODY_CENTRE, BODY_RADIUS = (0.0, 0.0, 20.0), 25.0
TUMOUR = (8.0, -3.0, 20.0)
VESSEL, VESSEL_RADIUS = (-6.0, 5.5, 20.0), 3.0
NEEDLE_RADIUS = 0.635  # 18G


@pytest.fixture(scope="module")
def base_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    spec = SeriesSpec(rows=64, columns=64, pixel_spacing_mm=(1.0, 1.0),
                      origin_lps_mm=(-32.0, -32.0, -6.0), offsets_mm=tuple(np.arange(52) * 1.0),
                      spheres=[Sphere(BODY_CENTRE, BODY_RADIUS, 40.0),
                               Sphere(TUMOUR, 6.0, 120.0), Sphere(VESSEL, VESSEL_RADIUS, 250.0)])
    write_series(folder / "dicom", spec)
    output = folder / "base.surgiplan"
    seeds = [f"tumour:{TUMOUR[0]},{TUMOUR[1]},{TUMOUR[2]}:80,160",
             f"portal_vein:{VESSEL[0]},{VESSEL[1]},{VESSEL[2]}:200,300"]
    args = ["case", "create", str(folder / "dicom"), "--preset", "skin", "--output", str(output)]
    for seed in seeds:
        args += ["--seed", seed]
    assert main(args) == 0
    return output


def _case_with_needle(base_case, tmp_path, y_mm: float):
    """A copy of the case with one needle along x at height y, from the skin to the tumour."""
    case = tmp_path / "case.surgiplan"
    shutil.copy(base_case, case)
    entry_x = -float(np.sqrt(BODY_RADIUS**2 - y_mm**2))
    plan = {"instruments": [{"id": "needle-1", "type": "biopsy_needle_18g",
                             "entry_lps_mm": [entry_x, y_mm, 20.0],
                             "target_lps_mm": [TUMOUR[0], y_mm, 20.0]}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    assert main(["plan", str(case), "--apply", str(tmp_path / "plan.json")]) == 0
    return case


def _check(case) -> tuple[int, list[dict]]:
    result = subprocess.run([sys.executable, "-m", "surgiplan.cli", "check", str(case),
                             "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)["complications"]


def test_safe_path_flags_nothing(base_case, tmp_path, capsys):
    case = _case_with_needle(base_case, tmp_path, y_mm=-3.0)  # 8.5 mm from the vessel axis
    capsys.readouterr()
    code, complications = _check(case)
    assert code == 0 and complications == []


def test_path_grazing_the_vessel_is_a_warning_with_the_measured_gap(base_case, tmp_path, capsys):
    gap_mm = 2.0
    y = VESSEL[1] - (VESSEL_RADIUS + NEEDLE_RADIUS + gap_mm)
    case = _case_with_needle(base_case, tmp_path, y_mm=y)
    capsys.readouterr()
    code, complications = _check(case)
    assert code == 0
    [margin] = complications
    assert set(margin) >= {"rule", "severity", "structures", "location_lps_mm", "value",
                           "threshold", "unit", "message"}
    assert margin["rule"] == "safety_margin" and margin["severity"] == "warning"
    assert margin["structures"] == ["portal_vein"] and margin["unit"] == "mm"
    assert margin["value"] == pytest.approx(gap_mm, abs=0.8)  # voxelised 3 mm vessel
    assert margin["threshold"] == 3.0 and "portal vein" in margin["message"]


def test_path_through_the_vessel_is_critical_and_exits_1(base_case, tmp_path, capsys):
    case = _case_with_needle(base_case, tmp_path, y_mm=VESSEL[1])
    capsys.readouterr()
    code, complications = _check(case)
    assert code == 1
    breach = next(c for c in complications if c["rule"] == "critical_breach")
    assert breach["severity"] == "critical" and breach["structures"] == ["portal_vein"]
    assert complications[0]["severity"] == "critical"  # critical first


def test_check_bad_input_exits_2(tmp_path):
    (tmp_path / "junk.surgiplan").write_bytes(b"not a zip")
    result = subprocess.run([sys.executable, "-m", "surgiplan.cli", "check",
                             str(tmp_path / "junk.surgiplan")], capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def _apply(case, tmp_path, document: dict, name: str = "more.json") -> subprocess.CompletedProcess:
    (tmp_path / name).write_text(json.dumps(document))
    return subprocess.run([sys.executable, "-m", "surgiplan.cli", "plan", str(case), "--apply",
                           str(tmp_path / name)], capture_output=True, text=True, timeout=300)


def test_plan_threshold_override_turns_the_grazing_warning_off(base_case, tmp_path, capsys):
    """Like the demo's needle-2 (2.73 mm from the portal vein): a warning at the 3 mm default,
    none once the plan lowers safety_margin's warning to 2 mm."""
    y = VESSEL[1] - (VESSEL_RADIUS + NEEDLE_RADIUS + 2.7)
    case = _case_with_needle(base_case, tmp_path, y_mm=y)
    capsys.readouterr()
    code, [margin] = _check(case)
    assert code == 0 and margin["rule"] == "safety_margin"
    assert 2.0 < margin["value"] < 3.0 and margin["threshold"] == 3.0
    override = {"safety_margin": {"thresholds": {"warning_mm": 2.0}}}
    result = _apply(case, tmp_path, {"thresholds": override})
    assert result.returncode == 0, result.stderr
    assert "safety_margin" in result.stdout
    assert _check(case) == (0, [])
    info = subprocess.run([sys.executable, "-m", "surgiplan.cli", "case", "info", str(case),
                           "--json"], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(info.stdout)["thresholds"] == override
    text = subprocess.run([sys.executable, "-m", "surgiplan.cli", "case", "info", str(case)],
                          capture_output=True, text=True, timeout=300, check=True).stdout
    assert 'safety_margin: {"thresholds": {"warning_mm": 2.0}}' in text


def test_invalid_threshold_override_exits_2_naming_the_key(base_case, tmp_path):
    case = tmp_path / "case.surgiplan"
    shutil.copy(base_case, case)
    before = case.read_bytes()
    result = _apply(case, tmp_path, {"thresholds": {
        "safety_margin": {"thresholds": {"margin_mm": 2.0}}}})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'margin_mm'" in lines[0] and "warning_mm" in lines[0], lines
    assert case.read_bytes() == before  # left untouched
