"""A report of the real LIDC chest twin (LIDC-IDRI-0314) with a needle into the right lung;
skipped when ../shared/data is absent."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from surgiplan.case.create import create_case
from surgiplan.imaging import load_series, scan_folder
from surgiplan.plan.apply import apply_plan_items
from surgiplan.plan.commands import UndoStack
from surgiplan.plan.plan_json import items_from_json
from surgiplan.plan.sample import safe_needle_path
from surgiplan.report import ReportOptions, write_report
from surgiplan.segmentation.recipe import SegmentationRecipe
from tests.report.helpers import pdf_pages, pdf_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chest_case(shared_data_module):
    """Skin, lungs and airway of the chest CT (the airway flagged critical), and a biopsy
    needle from the nearest safe skin entry to the middle of the right lung."""
    folder = shared_data_module("chest_ct_lidc0314")
    volume = load_series(scan_folder(folder).volumes()[0])
    case = create_case(volume, SegmentationRecipe(presets=("skin", "lung", "airway")),
                       source=str(folder))
    airway = case.twin.structure("airway")
    airway.info = replace(airway.info, critical=True)
    lung = case.twin.structure("lung").surface.vertices_lps_mm
    right = lung[lung[:, 0] < np.median(lung[:, 0])]  # patient right: smaller L
    entry, target = safe_needle_path(case.twin, right.mean(axis=0), reach_mm=150.0,
                                     target_structure="lung")
    items = items_from_json({"instruments": [{"id": "needle-1", "type": "biopsy_needle_18g",
                                              "entry_lps_mm": entry.tolist(),
                                              "target_lps_mm": target.tolist()}]})
    apply_plan_items(UndoStack(case.plan), items, case.twin, volume=case.volume)
    return case


def rows_length(result) -> float:
    return result.model.instruments[0].path_length_mm


def test_chest_report(chest_case, tmp_path):
    result = write_report(chest_case, tmp_path / "chest.pdf", html_path=tmp_path / "chest.html",
                          options=ReportOptions(picture_size=(480, 360)))
    text = pdf_text(result.pdf)
    for name in ("skin", "lung", "airway", "needle-1"):
        assert name in text, name
    assert "512 x 512 x 275" in text and "0.781 x 0.781 x 1 mm" in text
    assert "Philips" in text
    for c in result.model.complications:
        assert " ".join(c.message.split()) in text
    profile = result.model.profiles[0]
    assert set(profile.clearance_mm) == {"airway"}
    assert profile.along_mm[-1] == pytest.approx(rows_length(result), abs=1e-6)
    structure, clearance, _ = profile.closest()
    if clearance < 3.0:  # the check flags what the profile shows close to the airway
        flagged = [c for c in result.model.complications if c.item_id == "needle-1"]
        assert any("airway" in c.structures for c in flagged), flagged
    print(f"chest needle: closest {structure} {clearance:.2f} mm; complications "
          f"{[(c.rule, c.severity, c.value) for c in result.model.complications]}")
    rows = {r.id: r for r in result.model.instruments}
    assert rows["needle-1"].target_structure == "lung"
    pages = pdf_pages(result.pdf, tmp_path / "pages")
    assert len(pages) == result.pages
    assert all(page.astype(float).mean(axis=2).std() > 8.0 for page in pages)
    assert "LIDC" not in text  # the source folder name is withheld
