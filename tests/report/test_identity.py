"""De-identification: a DICOM series carrying a patient name, ID and birth date gives a report
and an export bundle holding none of them, unless the report is asked to identify; the bundle
files open with the usual readers."""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest
import trimesh

from surgiplan.case.create import create_case
from surgiplan.imaging import load_series, scan_folder
from surgiplan.imaging.export import LPS_TO_RAS
from surgiplan.plan.apply import apply_plan_items
from surgiplan.plan.commands import UndoStack
from surgiplan.plan.plan_json import items_from_json, read_plan_json
from surgiplan.report import ReportOptions, write_report
from surgiplan.report.identity import case_reference
from surgiplan.segmentation.recipe import SeedRequest, SegmentationRecipe
from tests.dicom_factory import SeriesSpec, Sphere, write_series
from tests.report.helpers import html_text, pdf_text

NAME = "Zarkovsky^Imelda"
IDENTIFYING = ("Zarkovsky", "Imelda", "ID-12345", "19700101", "1970-01-01", "ACC-999")
BODY = ((0.0, 0.0, 20.0), 25.0)
LESION = (5.0, -3.0, 20.0)


@pytest.fixture(scope="module")
def identified_case(tmp_path_factory):
    """A case made in memory from a series with identifiers (they stay in ``volume.identity``),
    with a needle, an incision and a landmark whose label holds the patient's name."""
    folder = tmp_path_factory.mktemp("dicom") / "Zarkovsky_Imelda"
    write_series(folder, SeriesSpec(rows=64, columns=64, pixel_spacing_mm=(1.0, 1.0),
                                    origin_lps_mm=(-32.0, -32.0, -6.0),
                                    offsets_mm=tuple(np.arange(52) * 1.0),
                                    spheres=[Sphere(*BODY, 40.0), Sphere(LESION, 8.0, 120.0)],
                                    patient_name=NAME))
    volume = load_series(scan_folder(folder).volumes()[0])
    assert volume.identity.values["PatientName"] == NAME
    recipe = SegmentationRecipe(presets=("skin",), seeds=(SeedRequest("tumour", LESION,
                                                                   (80.0, 160.0)),))
    case = create_case(volume, recipe, source=str(folder))
    radius = BODY[1]
    arc = [[radius * np.cos(a), -radius * np.sin(a), 20.0] for a in (0.3, 0.6, 0.9)]
    items = items_from_json({
        "instruments": [{"id": "needle-1", "type": "biopsy_needle_18g",
                         "entry_lps_mm": [-radius, LESION[1], LESION[2]],
                         "target_lps_mm": list(LESION)}],
        "incisions": [{"id": "cut-1", "structure": "skin", "points_lps_mm": arc}],
        "landmarks": [{"id": "mark-1", "point_lps_mm": list(LESION),
                       "label": "lesion of Imelda Zarkovsky"}]})
    apply_plan_items(UndoStack(case.plan), items, case.twin, volume=case.volume)
    return case


def _leaks(data: bytes) -> list[str]:
    lowered = data.lower()
    return [v for v in IDENTIFYING if v.lower().encode() in lowered]


@pytest.fixture(scope="module")
def deidentified(identified_case, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    return write_report(identified_case, folder / "plan.pdf", html_path=folder / "plan.html",
                        bundle_dir=folder / "bundle",
                        options=ReportOptions(picture_size=(320, 240),
                                              case_title="Zarkovsky_Imelda liver biopsy"))


def test_default_report_holds_no_identifier(deidentified, identified_case):
    text = pdf_text(deidentified.pdf)
    assert not _leaks(text.encode()), text
    assert not _leaks(deidentified.pdf.read_bytes())  # metadata and uncompressed objects
    assert not _leaks(html_text(deidentified.html).encode())
    assert not _leaks(deidentified.html.read_bytes())
    assert case_reference(identified_case) in text
    assert "not shown (de-identified report)" in text
    assert "[removed]" in text  # the landmark label's name was scrubbed, not dropped
    assert "liver biopsy" in text  # the case title, its identifying parts removed


def test_no_bundle_file_holds_an_identifier(deidentified):
    files = deidentified.bundle.all_files()
    assert len(files) >= 8
    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        assert not _leaks(data), path.name
    markups = json.loads(deidentified.bundle.files["markups"].read_text())
    labels = [p["label"] for m in markups["markups"] for p in m["controlPoints"]]
    assert "lesion of [removed] [removed]" in labels


def test_identified_report_shows_the_identifiers_but_the_bundle_never(identified_case,
                                                                      tmp_path):
    result = write_report(identified_case, tmp_path / "plan.pdf", html_path=tmp_path / "p.html",
                          bundle_dir=tmp_path / "bundle",
                          options=ReportOptions(identify=True, picture_size=(320, 240)))
    text = pdf_text(result.pdf)
    assert "Zarkovsky Imelda" in text and "ID-12345" in text and "1970-01-01" in text
    assert "Zarkovsky Imelda" in html_text(result.html)
    assert result.model.identified and result.to_json()["identified"]
    for path in result.bundle.all_files():
        data = path.read_bytes()
        assert not _leaks(gzip.decompress(data) if path.name.endswith(".gz") else data)


def test_bundle_files_open_with_their_readers(deidentified, identified_case):
    bundle = deidentified.bundle
    twin = identified_case.twin
    assert set(bundle.meshes) == set(twin.structures)
    for name, path in bundle.meshes.items():
        mesh = trimesh.load(path, force="mesh")
        assert len(mesh.faces) == twin.structure(name).surface.n_triangles
        np.testing.assert_allclose(mesh.bounds[0],
                                   twin.structure(name).surface.vertices_lps_mm.min(axis=0),
                                   atol=1e-3)
    obj = trimesh.load(bundle.files["obj"], force="scene")
    glb = trimesh.load(bundle.files["gltf"], force="scene")
    for scene in (obj, glb):
        assert sum(len(g.faces) for g in scene.geometry.values()) == sum(
            m.surface.n_triangles for m in twin.structures.values())
    image = nib.load(bundle.files["labels"])
    assert image.shape == twin.labelmap.labels.shape[::-1]
    np.testing.assert_allclose(image.affine, LPS_TO_RAS @ twin.affine_lps, atol=1e-5)
    assert set(np.unique(np.asarray(image.dataobj))) == {0} | {
        s.label for s in twin.labelmap.structures}
    markups = json.loads(bundle.files["markups"].read_text())
    assert markups["@schema"].startswith("https://raw.githubusercontent.com/slicer/slicer")
    kinds = {m["type"] for m in markups["markups"]}
    assert kinds == {"Curve", "Line", "Fiducial"}
    for markup in markups["markups"]:
        assert markup["coordinateSystem"] == "LPS"
        assert all(len(p["position"]) == 3 for p in markup["controlPoints"])
    plan = read_plan_json(bundle.files["plan"])
    assert list(plan.instruments) == ["needle-1"] and list(plan.incisions) == ["cut-1"]
    manifest = json.loads(bundle.files["manifest"].read_text())
    assert manifest["case_reference"] == case_reference(identified_case)
    assert manifest["de_identified"] is True
