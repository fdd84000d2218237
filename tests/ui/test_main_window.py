"""The main window: open a folder, list series, import in a worker, read the cursor, export."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from surgiplan.render.slices import Plane
from tests.dicom_factory import SeriesSpec, Sphere, write_series

SPHERE = (3.0, -4.0, 10.0)


def _folder(tmp_path):
    write_series(tmp_path / "scan", SeriesSpec(spheres=[Sphere(SPHERE, 9.0, 250.0)],
                                               series_number=1, description="abdomen"))
    write_series(tmp_path / "scan", SeriesSpec(series_number=2, description="gap",
                                               offsets_mm=(0.0, 2.0, 6.0, 8.0)), seed=5)
    (tmp_path / "scan" / "readme.txt").write_text("junk")
    return tmp_path / "scan"


def _import(qtbot, window, tmp_path):
    window.open_folder(_folder(tmp_path))
    qtbot.waitUntil(lambda: window.scan_result is not None and not window.runner.busy,
                    timeout=30_000)
    panel = window.series_panel
    assert panel.table.rowCount() == 2
    assert panel.table.item(0, 2).text() == "abdomen"
    assert panel.table.item(1, 6).text() == "missing_slices"
    assert "1 file(s) not used" in panel.summary.text()
    assert panel.import_button.isEnabled()
    qtbot.mouseClick(panel.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.volume is not None and not window.runner.busy,
                    timeout=30_000)
    return window.volume


def test_open_import_and_read_values_under_the_cursor(qtbot, main_window, tmp_path):
    volume = _import(qtbot, main_window, tmp_path)
    assert volume.shape == (30, 48, 40)
    axial = main_window.views[Plane.AXIAL]
    k_sphere = int(round(volume.lps_to_ijk([SPHERE])[0][2]))
    axial.set_index(k_sphere)
    assert axial.pixmap() is not None and not axial.pixmap().isNull()
    # find the widget point over the sphere centre and hover it
    i, j, _ = np.rint(volume.lps_to_ijk([SPHERE])[0]).astype(int)
    target = None
    for x in range(axial.width()):
        for y in range(0, axial.height(), 2):
            if axial.voxel_at(QPoint(x, y)) == (i, j, k_sphere):
                target = QPoint(x, y)
                break
        if target:
            break
    assert target is not None
    qtbot.mouseMove(axial, target)
    qtbot.waitUntil(lambda: "250 HU" in main_window.cursor_label.text(), timeout=5000)
    assert "LPS (" in main_window.cursor_label.text()


def test_window_presets_change_the_picture(qtbot, main_window, tmp_path):
    _import(qtbot, main_window, tmp_path)
    axial = main_window.views[Plane.AXIAL]
    names = [main_window.window_combo.itemText(n) for n in range(main_window.window_combo.count())]
    assert names[:2] == ["Soft tissue", "Lung"]
    before = axial.pixmap().toImage()
    main_window.window_combo.setCurrentIndex(names.index("Lung"))
    assert axial.pixmap().toImage() != before


def test_wheel_scrolls_slices(qtbot, main_window, tmp_path):
    _import(qtbot, main_window, tmp_path)
    view = main_window.views[Plane.CORONAL]
    start = view.index
    view.set_index(start + 3)
    assert view.index == start + 3
    view.set_index(10_000)
    assert view.index == main_window.volume.shape[1] - 1


def test_export_writes_the_volume(qtbot, main_window, tmp_path):
    import nibabel as nib

    volume = _import(qtbot, main_window, tmp_path)
    out = tmp_path / "exported.nii.gz"
    main_window.export_volume(out)
    qtbot.waitUntil(lambda: out.exists() and not main_window.runner.busy, timeout=30_000)
    assert nib.load(out).shape == volume.shape[::-1]


def test_bad_folder_shows_a_dialog_not_a_crash(qtbot, main_window, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    main_window.open_folder(tmp_path / "junk")
    qtbot.waitUntil(lambda: main_window.error_box is not None, timeout=30_000)
    assert main_window.error_box.isVisible()
    assert "No DICOM images" in main_window.error_box.text()
    main_window.error_box.close()
    main_window.open_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: "no such folder" in main_window.error_box.text(), timeout=30_000)


def test_cancel_stops_a_scan(qtbot, main_window, tmp_path):
    write_series(tmp_path / "big", SeriesSpec(offsets_mm=tuple(np.arange(200) * 1.0), rows=8,
                                              columns=8))
    cancelled = []
    main_window.statusBar().messageChanged.connect(cancelled.append)
    main_window.runner.busy_changed.connect(
        lambda busy: main_window.runner.cancel() if busy else None)
    main_window.open_folder(tmp_path / "big")
    qtbot.waitUntil(lambda: not main_window.runner.busy, timeout=30_000)
    assert "Cancelled" in cancelled
    assert main_window.scan_result is None
