"""``surgiplan demo`` runs the pipeline on the bundled sample case."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np

from surgiplan.cli import main
from surgiplan.demo import repository_data_dir


def test_demo_imports_the_sample_case_where_its_ground_truth_says(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
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


def test_demo_builds_the_phantom_twin_within_two_percent_of_ground_truth(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path)]) == 0
    capsys.readouterr()
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
