"""The sample case's report: every structure, instrument and complication named in the PDF and
the HTML, pages that are not blank, the clearance profiles against the check's own finding."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from surgiplan.case.case_file import load_case
from surgiplan.rehearsal.codec import store_in_case
from surgiplan.report import ReportOptions, write_report
from surgiplan.risk import Severity
from surgiplan.sample_case import sample_case_file
from surgiplan.simulation.plan_check import check_case
from tests.report.helpers import html_text, pdf_pages, pdf_text, synthetic_run

CRITICAL = ("aorta", "vena_cava", "portal_vein", "hepatic_veins")


@pytest.fixture(scope="module")
def sample():
    """The sample case with two rehearsal attempts (the second failing), and its check."""
    case = load_case(sample_case_file())
    store_in_case(case, synthetic_run("run-a", 45.0, False, trainee="trainee-ana", end_x=13.0))
    store_in_case(case, synthetic_run("run-b", 88.0, True, trainee="trainee-ana"))
    return case, check_case(case)


@pytest.fixture(scope="module")
def written(sample, tmp_path_factory):
    case, _ = sample
    folder = tmp_path_factory.mktemp("report")
    result = write_report(case, folder / "plan.pdf", html_path=folder / "plan.html",
                          options=ReportOptions(author="Dr Test", title="Liver biopsy plan",
                                                picture_size=(480, 360)))
    return folder, result


def test_report_files_and_counts(written, sample):
    folder, result = written
    case, check = sample
    assert result.pdf == folder / "plan.pdf" and result.html == folder / "plan.html"
    assert result.pdf.read_bytes().startswith(b"%PDF-")
    assert result.files == [result.pdf, result.html] and result.bundle is None
    data = result.to_json()
    assert data["structures"] == len(case.twin.structures) == 12
    assert data["instruments"] == 2 and data["incisions"] == 1
    assert data["complications"] == len(check.complications) >= 1
    assert data["rehearsal_attempts"] == 2
    # anterior, lateral, approach, 2 along views, 2 clearance charts, progress
    assert data["pictures"] == 8
    assert not list(folder.glob(".*tmp*"))  # atomic writes leave no temporary behind


def test_pdf_text_names_every_structure_instrument_and_complication(written, sample):
    case, check = sample
    text = pdf_text(written[1].pdf)
    for name in case.twin.structures:
        assert name in text, name
    for item_id in (*case.plan.instruments, *case.plan.incisions):
        assert item_id in text, item_id
    assert "18G biopsy needle" in text
    for c in check.complications:
        assert " ".join(c.message.split()) in text, c.message
        assert c.severity.label.upper() in text
    assert "Liver biopsy plan" in text and "Dr Test" in text
    assert "not a medical device" in text
    assert "SurgiPlan 0.1.0" in text or "SurgiPlan " in text


def test_pdf_sections_and_threshold_source(written):
    text = pdf_text(written[1].pdf)
    for heading in ("1. Scan", "2. Digital twin", "3. Plan", "4. Complications",
                    "5. Deformation", "6. Rehearsal", "7. Provenance"):
        assert heading in text, heading
    assert "256 x 256 x 64" in text and "1.5 x 1.5 x 3 mm" in text
    # the safety-margin finding cites the table's source (Sparks et al. 2017)
    assert "Sparks et al. 2017" in text and "Instrument too close to a critical structure" in text
    assert "trainee-ana" in text and "FAIL: critical_contacts" in text and "PASS" in text


def test_pdf_pages_are_not_blank(written, tmp_path):
    result = written[1]
    pages = pdf_pages(result.pdf, tmp_path / "pages")
    assert len(pages) == result.pages >= 4
    for number, page in enumerate(pages, start=1):
        grey = page.astype(float).mean(axis=2)
        assert grey.std() > 8.0, f"page {number} looks blank"
        assert (grey < 128).mean() > 0.002, f"page {number} has no dark ink"


def test_complication_rows_are_coloured_by_severity(written, tmp_path):
    """A warning row is drawn on the warning colour (#fde3b0) somewhere in the PDF."""
    pages = pdf_pages(written[1].pdf, tmp_path / "pages", dpi=60)
    amber = np.array([0xfd, 0xe3, 0xb0])
    assert any((np.abs(p.astype(int) - amber).max(axis=2) <= 3).sum() > 200 for p in pages)


def test_html_names_the_same_things_and_is_self_contained(written, sample):
    case, check = sample
    path = written[1].html
    raw = path.read_text(encoding="utf-8")
    text = html_text(path)
    for name in (*case.twin.structures, *case.plan.instruments, *case.plan.incisions):
        assert name in text, name
    for c in check.complications:
        assert " ".join(c.message.split()) in text
    assert "not a medical device" in text
    sources = re.findall(r'src="([^"]+)"', raw)
    assert len(sources) == written[1].pictures
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.format == "PNG"
    assert "http://" not in raw.split("<body>", 1)[1].split("Threshold sources")[0]


def test_clearance_profiles_agree_with_the_check(written, sample):
    """needle-2 is the sample's grazing needle: its path's smallest clearance is to the portal
    vein near its tip, close to the value the safety-margin rule reported; needle-1 keeps
    clear of every critical structure by more than the rule's warning threshold (3 mm)."""
    _, check = sample
    model = written[1].model
    profiles = {p.item_id: p for p in model.profiles}
    assert set(profiles) == {"needle-1", "needle-2"}
    for profile in profiles.values():
        assert set(profile.clearance_mm) == set(CRITICAL)
        assert profile.along_mm[0] == 0.0
        assert np.all(np.diff(profile.along_mm) <= 1.0 + 1e-9)
    graze = next(c for c in check.complications if c.item_id == "needle-2")
    structure, clearance, depth = profiles["needle-2"].closest()
    assert structure == "portal_vein" and graze.severity is Severity.WARNING
    assert abs(clearance - graze.value) < 1.0
    assert depth > 0.9 * profiles["needle-2"].along_mm[-1]
    assert profiles["needle-1"].closest()[1] > 3.0
    rows = {r.id: r for r in model.instruments}
    assert rows["needle-2"].closest.startswith("portal_vein ")
    assert rows["needle-1"].target_structure == "tumour"
    reach = check.context.instruments["needle-1"].tip_to_target
    assert reach.distance_mm <= 0  # the planned tip is in the tumour
    assert rows["needle-1"].tip == f"{-reach.distance_mm:.1f} mm inside tumour"
    assert f"Tip: {rows['needle-1'].tip}." in " ".join(pdf_text(written[1].pdf).split())


def test_deformation_summary_of_a_needle_plan_is_empty(written):
    model = written[1].model
    assert model.deformations == () and model.peak_strain is None
    assert "no deformation was simulated" in pdf_text(written[1].pdf)
