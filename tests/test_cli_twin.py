"""``surgiplan twin``: the JSON contract, written files, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import trimesh

from surgiplan.cli import main
from tests.dicom_factory import SeriesSpec, Sphere, write_series

BALL = (2.0, -3.0, 20.0)
BALL_RADIUS = 10.0


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scan")
    spec = SeriesSpec(rows=64, columns=64, pixel_spacing_mm=(1.0, 1.0),
                      origin_lps_mm=(-30.0, -35.0, -2.0), offsets_mm=tuple(np.arange(45) * 1.0),
                      spheres=[Sphere((0.0, 0.0, 20.0), 25.0, 40.0),
                               Sphere(BALL, BALL_RADIUS, 120.0)])
    write_series(folder, spec)
    return folder


def test_twin_json_contract_and_outputs(scan, tmp_path, capsys):
    out = tmp_path / "twin"
    seed = f"liver:{BALL[0]},{BALL[1]},{BALL[2]}:80,160"
    assert main(["twin", str(scan), "--preset", "skin", "--seed", seed, "--output", str(out),
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in payload["structures"]}
    assert set(rows) == {"skin", "liver"}
    for row in rows.values():
        assert set(row) >= {"name", "voxels", "volume_ml", "surface_area_cm2", "triangles",
                            "watertight", "tet_nodes", "tet_elements"}
        assert row["watertight"] is True
    analytic_ml = 4 / 3 * np.pi * BALL_RADIUS**3 / 1000
    assert rows["liver"]["volume_ml"] == pytest.approx(analytic_ml, rel=0.03)
    assert rows["liver"]["tet_nodes"] > 0
    for name in ("meshes/liver.stl", "meshes/skin.stl", "twin.glb", "labels.nii.gz",
                 "labels.seg.nrrd", "labels.ctbl", "summary.json"):
        assert (out / name).is_file(), name
    liver = trimesh.load(out / "meshes" / "liver.stl")
    np.testing.assert_allclose(liver.center_mass, BALL, atol=0.3)  # STL in LPS mm
    labels = nib.load(out / "labels.nii.gz")
    assert labels.shape == (64, 64, 45)


def test_twin_from_a_volume_file(scan, tmp_path, capsys):
    volume_file = tmp_path / "scan.nii.gz"
    assert main(["import", str(scan), "--output", str(volume_file)]) == 0
    capsys.readouterr()
    seed = f"tumour:{BALL[0]},{BALL[1]},{BALL[2]}:80,160"
    assert main(["twin", str(volume_file), "--seed", seed, "--output", str(tmp_path / "t")]) == 0
    table = capsys.readouterr().out
    assert "tumour" in table and "watertight" in table


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "surgiplan.cli", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("extra,message", [
    ([], "nothing to build"),
    (["--preset", "kidney"], "unknown preset"),
    (["--seed", "liver:900,900,900"], "outside"),
    (["--seed", "liver"], "NAME:x,y,z"),
    (["--labels", "/nonexistent/labels.nii.gz"], "no such label file"),
])
def test_twin_bad_input_exits_2_with_one_line(scan, tmp_path, extra, message):
    result = _run("twin", str(scan), "--output", str(tmp_path / "o"), *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
