"""The series browser: thumbnails of the middle slice, size, spacing, warnings, import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from surgiplan.imaging import scan_folder
from surgiplan.render.thumbnails import series_thumbnail, thumbnail_image
from surgiplan.ui.series_panel import COLUMNS, SeriesPanel
from tests.dicom_factory import SeriesSpec, Sphere, write_series


@pytest.fixture
def scan(tmp_path):
    write_series(tmp_path / "scan", SeriesSpec(spheres=[Sphere((0.0, 0.0, 10.0), 12.0, 200.0)],
                                               series_number=1, description="abdomen"))
    write_series(tmp_path / "scan", SeriesSpec(series_number=2, description="gap", rows=20,
                                               columns=24, offsets_mm=(0.0, 2.0, 6.0, 8.0)),
                 seed=5)
    write_series(tmp_path / "scan", SeriesSpec(series_number=3, description="scout",
                                               offsets_mm=(0.0,)))
    return scan_folder(tmp_path / "scan")


@pytest.fixture
def panel(qtbot):
    widget = SeriesPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _show(qtbot, panel, scan):
    with qtbot.waitSignal(panel.thumbnails_finished, timeout=30_000):
        panel.show_result(scan)
    assert not panel.thumbnails_pending


def _cell(panel, row, column):
    return panel.table.item(row, COLUMNS.index(column)).text()


def test_rows_show_size_spacing_modality_and_warnings(qtbot, panel, scan):
    _show(qtbot, panel, scan)
    assert panel.table.rowCount() == 3
    assert [_cell(panel, r, "Description") for r in range(3)] == ["abdomen", "gap", "scout"]
    assert _cell(panel, 0, "Size") == "40 x 48 x 30"  # columns x rows x slices
    assert _cell(panel, 0, "Spacing (mm)") == "1.25 x 1.5 x 2"
    assert _cell(panel, 0, "Modality") == "CT"
    assert _cell(panel, 1, "Size") == "24 x 20 x 5"  # regular grid over the missing slice
    assert _cell(panel, 1, "Warnings") == "missing_slices"
    tooltip = panel.table.item(1, COLUMNS.index("Warnings")).toolTip()
    assert "missing" in tooltip.lower()
    assert _cell(panel, 2, "Volume") == "no"
    assert "3 series (2 importable)" in panel.summary.text()


def test_thumbnails_show_the_middle_slice(qtbot, panel, scan):
    _show(qtbot, panel, scan)
    assert set(panel.thumbnails) == {0, 1, 2}
    for row in range(3):
        icon = panel.table.item(row, 0).icon()
        assert not icon.isNull()
    picture = panel.thumbnails[0].toImage()
    assert max(picture.width(), picture.height()) == 64
    greys = {picture.pixelColor(x, y).value() for x in range(0, picture.width(), 2)
             for y in range(0, picture.height(), 2)}
    assert len(greys) > 1  # the sphere (200 HU, white) on air (black), not a blank square
    assert max(greys) > 200 and min(greys) == 0


def test_selection_details_and_import(qtbot, panel, scan):
    _show(qtbot, panel, scan)
    assert panel.selected() is scan.series[0]
    assert "size (columns x rows x slices): 40 x 48 x 30" in panel.details.toPlainText()
    panel.table.selectRow(1)
    assert "[missing_slices]" in panel.details.toPlainText()
    with qtbot.waitSignal(panel.import_requested) as blocker:
        qtbot.mouseClick(panel.import_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [scan.series[1]]
    panel.table.selectRow(2)
    assert not panel.import_button.isEnabled()


def test_a_new_result_replaces_the_thumbnails(qtbot, panel, scan, tmp_path):
    _show(qtbot, panel, scan)
    write_series(tmp_path / "other", SeriesSpec(description="only"))
    _show(qtbot, panel, scan_folder(tmp_path / "other"))
    assert panel.table.rowCount() == 1
    assert set(panel.thumbnails) == {0}


def test_unreadable_pixels_leave_the_row_without_a_picture(qtbot, panel, scan, tmp_path):
    for image in scan.series[2].images:
        Path(image.path).unlink()
    _show(qtbot, panel, scan)
    assert set(panel.thumbnails) == {0, 1}
    assert panel.table.item(2, 0).icon().isNull()
    assert series_thumbnail(scan.series[2]) is None


def test_an_empty_scan_finishes_at_once(qtbot, panel, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    _show(qtbot, panel, scan_folder(tmp_path / "empty"))
    assert panel.table.rowCount() == 0 and panel.thumbnails == {}


def test_thumbnail_helper_keeps_the_physical_aspect_and_windows(scan):
    values = np.full((100, 50), -1000.0, dtype=np.float32)
    values[40:60, 20:30] = 300.0
    grey = thumbnail_image(values, (1.0, 4.0), modality="CT", size=64)
    assert grey.shape == (32, 64)  # 100 x 1 mm high, 50 x 4 mm wide
    assert grey.dtype == np.uint8 and grey.max() == 255 and grey.min() == 0
    middle = series_thumbnail(scan.series[0], size=32)
    assert middle is not None and middle.shape == (32, 22)  # 72 mm x 50 mm
    assert middle[16, 11] == 229 and middle[0, 0] == 0  # 200 HU sphere in the soft-tissue window
