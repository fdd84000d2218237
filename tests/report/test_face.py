"""A face is an identifier: on a head scan the surfaces that can show it stay out of the
bundle unless asked for; other scans keep every structure."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import nibabel as nib
import numpy as np
import pytest
import trimesh
from PIL import Image

from surgiplan.case.case_file import load_case
from surgiplan.case.create import create_case
from surgiplan.imaging import load_series, scan_folder
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.report import ReportOptions, write_report
from surgiplan.report.bundle import write_bundle
from surgiplan.report.identity import face_surfaces, holds_face
from surgiplan.report.pictures import twin_pictures
from surgiplan.sample_case import sample_case_file
from surgiplan.segmentation.recipe import SegmentationRecipe
from surgiplan.simulation.plan_check import check_case
from tests.report.helpers import pdf_text


@pytest.fixture(scope="module")
def sample():
    return load_case(sample_case_file())


@pytest.mark.parametrize("key, value, face", [
    ("BodyPartExamined", "ABDOMEN", False), ("BodyPartExamined", "HEAD", True),
    ("StudyDescription", "CT Brain without contrast", True),
    ("series_description", "Neck angio", True), ("ProtocolName", "Liver 3 phase", False)])
def test_head_and_neck_scans_hold_a_face(sample, key, value, face):
    metadata = {**{k: v for k, v in sample.volume.metadata.items()
                   if k not in ("BodyPartExamined", "StudyDescription", "series_description",
                                "ProtocolName")}, key: value}
    case = replace(sample, volume=replace(sample.volume, metadata=metadata))
    assert holds_face(case) is face
    expected = tuple(n for n, m in sample.twin.structures.items()
                     if m.info.tissue in ("skin", "fat", "muscle", "soft_tissue"))
    assert face_surfaces(case) == (expected if face else ())
    assert "skin" in expected  # the sample's body outline


@pytest.fixture(scope="module")
def head_case(shared_data_module):
    """Skin and bone of the tilted head CT (DICOM body part HEAD)."""
    folder = shared_data_module("head_ct_gantry_tilt_ge")
    volume = load_series(scan_folder(folder).volumes()[0])
    case = create_case(volume, SegmentationRecipe(presets=("skin", "bone")), source=str(folder))
    return case, check_case(case)


def test_head_bundle_leaves_the_face_surface_out(head_case, tmp_path):
    case, check = head_case
    assert face_surfaces(case) == ("skin",)
    result = write_bundle(case, check, tmp_path / "bundle")
    assert result.left_out == ("skin",)
    assert set(result.meshes) == {"bone"}
    assert not (tmp_path / "bundle" / "meshes" / "skin.stl").exists()
    scene = trimesh.load(result.files["gltf"])
    assert not any("skin" in name for name in scene.geometry)
    labels = np.asarray(nib.load(result.files["labels"]).dataobj)
    skin_label = case.twin.labelmap.structure("skin").label
    assert skin_label not in np.unique(labels)
    assert (labels == case.twin.labelmap.structure("bone").label).sum() == \
        case.twin.labelmap.voxel_count("bone")
    assert "skin" not in result.files["colour_table"].read_text()
    manifest = json.loads(result.files["manifest"].read_text())
    assert list(manifest["left_out"]) == ["skin"]
    assert case.twin.labelmap.voxel_count("skin") > 0  # the case itself is untouched


def test_head_bundle_keeps_the_face_when_asked(head_case, tmp_path):
    case, check = head_case
    result = write_bundle(case, check, tmp_path / "bundle", keep_face=True)
    assert result.left_out == () and set(result.meshes) == {"skin", "bone"}
    labels = np.asarray(nib.load(result.files["labels"]).dataobj)
    assert case.twin.labelmap.structure("skin").label in np.unique(labels)


def test_head_report_pictures_leave_the_face_out_unless_asked(head_case, tmp_path):
    case, check = head_case
    plain = write_report(case, tmp_path / "plain.pdf",
                         options=ReportOptions(picture_size=(240, 180)))
    kept = write_report(case, tmp_path / "kept.pdf",
                        options=ReportOptions(picture_size=(240, 180), keep_face=True))
    assert plain.to_json()["face_left_out"] == ["skin"] and kept.to_json()["face_left_out"] == []
    text = " ".join(pdf_text(plain.pdf).split())
    assert "Left out of the pictures and the export: skin" in text
    assert "Left out of the pictures" not in pdf_text(kept.pdf)

    def anterior(hidden) -> np.ndarray:
        [picture] = [p for p in twin_pictures(case, check, load_catalogue(), size=(240, 180),
                                              hidden=hidden) if p.key == "anterior"]
        return np.asarray(Image.open(io.BytesIO(picture.png)).convert("RGB"), dtype=float)

    without, with_face = anterior(("skin",)), anterior(())
    changed = np.abs(without - with_face).max(axis=2) > 30
    assert changed.mean() > 0.05  # the face in front of the skull is gone
