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
