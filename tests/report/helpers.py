"""Reading written reports back: PDF text and pages (poppler), HTML text, synthetic runs."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from surgiplan.rehearsal.metrics import motion_metrics
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import SafetyMetric


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return found


def pdf_text(path: Path) -> str:
    """The PDF's text (pdftotext), whitespace runs collapsed to one space."""
    out = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(out.split())


def pdf_pages(path: Path, folder: Path, dpi: int = 40) -> list[np.ndarray]:
    """Every page as an (h, w, 3) uint8 array (pdftoppm PNGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-png", str(path), str(folder / "page")],
                   check=True)
    return [np.asarray(Image.open(p).convert("RGB"))
            for p in sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))]


def html_text(path: Path) -> str:
    """The HTML's visible text: tags and embedded pictures dropped, entities decoded,
    whitespace collapsed."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<style>.*?</style>", " ", raw, flags=re.S)
    raw = re.sub(r"<[^>]+>", " ", raw)
    return " ".join(html.unescape(raw).split())


def synthetic_run(run_id: str, score: float, passed: bool, *, instrument: str = "needle-1",
                  trainee: str = "ana", end_x: float = 10.0) -> RehearsalRun:
    """A three-sample run with real motion metrics and one safety metric."""
    t = np.array([0.0, 1.0, 2.0])
    tips = np.array([[0, 0, 0], [5, 0, 0], [end_x, 0, 0]], dtype=float)
    axes = np.tile([1.0, 0, 0], (3, 1))
    safety = [SafetyMetric("critical_contacts", 0 if passed else 1, passed, None, "mm",
                           "contacts with critical structures")]
    return RehearsalRun(run_id, instrument, "biopsy_needle_18g", trainee, "2024-01-01T00:00:00",
                        t, tips, axes, (0.0, 0, 0), (10.0, 0, 0),
                        motion_metrics(t, tips, axes, planned_target_lps_mm=[10.0, 0, 0]),
                        safety=safety, composite_score=score)
