"""The CLI contract: JSON fields, outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from surgiplan.cli import main
from tests.dicom_factory import SeriesSpec, Sphere, write_series


@pytest.fixture
def mixed_folder(tmp_path):
    write_series(tmp_path / "a", SeriesSpec(series_number=1, description="body",
                                            spheres=[Sphere((0.0, 0.0, 10.0), 8.0, 300.0)]))
    write_series(tmp_path / "b", SeriesSpec(series_number=2, description="gappy",
                                            offsets_mm=(0.0, 2.0, 4.0, 8.0, 10.0)))
    (tmp_path / "junk.txt").write_text("hello")
    return tmp_path


def test_scan_json_contract(mixed_folder, capsys):
    assert main(["scan", str(mixed_folder), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"series", "skipped"}
    first, second = payload["series"]
    for key, kind in [("index", int), ("modality", str), ("description", str), ("files", int),
                      ("is_volume", bool), ("shape", list), ("spacing_mm", list),
                      ("warnings", list)]:
        assert isinstance(first[key], kind), key
    assert first["index"] == 1 and second["index"] == 2
    assert isinstance(first["uid"], str)
    assert first["shape"] == [30, 48, 40]
    assert first["spacing_mm"] == pytest.approx([1.25, 1.5, 2.0])
    assert first["is_volume"] is True and first["files"] == 30
    assert second["warnings"][0]["code"] == "missing_slices"
    assert set(second["warnings"][0]) == {"code", "message"}
    assert payload["skipped"] == [{"path": str(mixed_folder / "junk.txt"), "reason": "not DICOM"}]


def test_scan_table_is_readable(mixed_folder, capsys):
    assert main(["scan", str(mixed_folder)]) == 0
    out = capsys.readouterr().out
    assert "missing_slices" in out and "body" in out and "junk.txt: not DICOM" in out
    assert "Doe" not in out


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_import_by_index_and_uid(mixed_folder, tmp_path, capsys, suffix):
    out = tmp_path / f"vol{suffix}"
    assert main(["import", str(mixed_folder), "--series", "2", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "warning [missing_slices]" in printed
    assert out.exists()
    main(["scan", str(mixed_folder), "--json"])
    uid = json.loads(capsys.readouterr().out)["series"][0]["uid"]
    out_uid = tmp_path / "by_uid.nii"
    assert main(["import", str(mixed_folder), "--series", uid, "--output", str(out_uid)]) == 0
    data = np.asarray(nib.load(out_uid).dataobj)
    assert data.max() == 300 and data.shape == (40, 48, 30)
    assert "Doe" not in capsys.readouterr().out


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "surgiplan.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["missing", "file", "nothing", "series", "output", "suffix",
                                  "noargs"])
def test_bad_input_exits_2_with_one_line(mixed_folder, tmp_path, case):
    (tmp_path / "only_junk").mkdir()
    (tmp_path / "only_junk" / "x.txt").write_text("x")
    args = {
        "missing": ["import", str(tmp_path / "nope"), "--output", str(tmp_path / "o.nii")],
        "file": ["scan", str(mixed_folder / "junk.txt")],
        "nothing": ["import", str(tmp_path / "only_junk"), "--output", str(tmp_path / "o.nii")],
        "series": ["import", str(mixed_folder), "--series", "9", "--output",
                   str(tmp_path / "o.nii")],
        "output": ["import", str(mixed_folder), "--output", str(tmp_path / "no" / "o.nii")],
        "suffix": ["import", str(mixed_folder), "--output", str(tmp_path / "o.png")],
        "noargs": ["import", str(mixed_folder)],
    }[case]
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("surgiplan: error:")


def test_import_never_overwrites_on_failure(mixed_folder, tmp_path):
    target = tmp_path / "keep.nii"
    target.write_bytes(b"old")
    result = _run("import", str(mixed_folder), "--series", "7", "--output", str(target))
    assert result.returncode == 2 and target.read_bytes() == b"old"
