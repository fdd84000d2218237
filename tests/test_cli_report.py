"""``surgiplan report``: exit 0 with the files and counts, exit 2 with one line on bad input."""

from __future__ import annotations

import json

import pytest

from surgiplan.cli import main
from surgiplan.sample_case import sample_case_file
from tests.report.helpers import pdf_text


@pytest.fixture(scope="module")
def sample_file():
    return sample_case_file()


def test_report_writes_pdf_html_and_bundle_and_prints_json(sample_file, tmp_path, capsys):
    pdf = tmp_path / "plan.pdf"
    code = main(["report", str(sample_file), "--output", str(pdf), "--html", "--bundle",
                 "--author", "Dr Who", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pdf"] == str(pdf) and data["html"] == str(tmp_path / "plan.html")
    assert data["bundle"] == str(tmp_path / "plan-export")
    assert (data["structures"], data["instruments"], data["complications"]) == (12, 2, 1)
    assert data["pages"] >= 4 and data["identified"] is False
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "plan-export" / "twin.glb").is_file()
    assert (tmp_path / "plan-export" / "labels.nii.gz").is_file()
    assert all(p in data["files"] for p in (str(pdf), str(tmp_path / "plan.html")))
    text = pdf_text(pdf)
    assert sample_file.name.removesuffix(".surgiplan") in text  # the case title on the cover
    assert "Dr Who" in text


@pytest.mark.parametrize("output, message", [
    ("plan.txt", "must be a .pdf file"),
    ("missing/plan.pdf", "does not exist"),
])
def test_bad_output_exits_2_with_one_line(sample_file, tmp_path, capsys, output, message):
    assert main(["report", str(sample_file), "--output", str(tmp_path / output)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.rglob("*.pdf"))


def test_missing_or_damaged_case_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.surgiplan"), "--output",
                 str(tmp_path / "a.pdf")]) == 2
    assert "no case file" in capsys.readouterr().err
    damaged = tmp_path / "bad.surgiplan"
    damaged.write_bytes(b"not a case")
    assert main(["report", str(damaged), "--output", str(tmp_path / "a.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a SurgiPlan case file" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "a.pdf").exists()


def test_existing_pdf_is_kept_when_the_report_fails(tmp_path, capsys):
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(b"%PDF-old")
    damaged = tmp_path / "bad.surgiplan"
    damaged.write_bytes(b"not a case")
    assert main(["report", str(damaged), "--output", str(pdf)]) == 2
    assert pdf.read_bytes() == b"%PDF-old"
    capsys.readouterr()


def test_report_help_documents_the_defaults(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["report", "--help"])
    assert stop.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--identify" in out and "-export beside the PDF" in out and "none by default" in out
