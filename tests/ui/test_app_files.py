"""The app's files and handles: drop a folder on the window, drag an instrument's tip in 3D,
recover an autosaved case at start."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from surgiplan.case.case_file import has_recovery, recovery_path
from surgiplan.ui.main_window import MainWindow
from surgiplan.ui.welcome import RecentFiles
from tests.ui.test_app_workflow import LONG_MS, _wait_idle
from tests.ui.test_main_window import _folder


def _drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_a_folder_scans_it(qtbot, main_window, tmp_path):
    _drop(main_window, _folder(tmp_path))
    qtbot.waitUntil(lambda: main_window.scan_result is not None and not main_window.runner.busy,
                    timeout=LONG_MS)
    assert main_window.series_panel.table.rowCount() == 2
    (tmp_path / "notes.txt").write_text("x")
    _drop(main_window, tmp_path / "notes.txt")
    assert "cannot open notes.txt" in main_window.error_box.text()


def test_dragging_the_tip_handle_reaims_the_needle(qtbot, sample_window):
    window = sample_window
    window.case_view.select_instrument("needle-1")
    before = window.session.placement("needle-1")
    np.testing.assert_allclose(window.view3d.handle_centre, before.tip_lps_mm)
    new_tip = before.tip_lps_mm + np.array([0.0, 0.0, 6.0])
    window.view3d._handle_released(new_tip)  # what releasing the dragged sphere calls
    moved = window.session.placement("needle-1")
    np.testing.assert_allclose(moved.tip_lps_mm, new_tip)
    np.testing.assert_allclose(moved.tip_lps_mm, np.asarray(moved.entry_lps_mm)
                               + moved.insertion_depth_mm * moved.axis, atol=1e-9)
    _wait_idle(qtbot, window)
    np.testing.assert_allclose(window.view3d.handle_centre, new_tip)
    window.menus.undo_action.trigger()
    np.testing.assert_allclose(window.session.placement("needle-1").tip_lps_mm, before.tip_lps_mm)


def test_an_autosave_is_offered_at_start_and_recovered(qtbot, sample_window, tmp_path):
    window = sample_window
    window.files.ask_save_path = lambda: tmp_path / "case.surgiplan"
    window.menus.save_action.trigger()
    _wait_idle(qtbot, window)
    window.session.add_landmark((1.0, 2.0, 3.0), "after the save")
    written = window.files.autosave()
    assert written == recovery_path(tmp_path / "case.surgiplan")
    assert has_recovery(tmp_path / "case.surgiplan")

    again = MainWindow(recent=window.files.recent, autosave_ms=0)  # "after a crash"
    qtbot.addWidget(again)
    asked = []
    again.files.ask_recover = lambda path: asked.append(path) or True
    again.files.ask_discard = lambda _reason: "discard"
    assert again.files.offer_recovery()
    qtbot.waitUntil(lambda: again.session is not None, timeout=LONG_MS)
    _wait_idle(qtbot, again)
    assert asked == [tmp_path / "case.surgiplan"]
    assert "landmark-1" in again.session.case.plan.landmarks
    assert again.session.dirty and again.windowTitle().startswith("case.surgiplan *")
    again.close()


def test_recent_files_listed_on_the_welcome_page(qtbot, tmp_path):
    recent = RecentFiles(path=tmp_path / "recent.ini")
    case = tmp_path / "old.surgiplan"
    case.write_bytes(b"x")
    recent.add(case)
    window = MainWindow(recent=recent, autosave_ms=0)
    qtbot.addWidget(window)
    assert window.welcome.recent_paths() == [case]


def test_structure_edits_from_the_table_reach_the_3d_view_and_undo(qtbot, sample_window):
    from surgiplan.twin.twin import DisplaySettings

    window = sample_window
    liver_actor = window.view3d.scene.actor("liver")
    window.structures_panel.display_change_requested.emit(
        "liver", DisplaySettings((0.0, 1.0, 0.0), 0.5, False))
    assert not liver_actor.GetVisibility()
    assert window.session.case.twin.display["liver"].opacity == 0.5
    window.structures_panel.structure_change_requested.emit("liver", {"critical": True})
    assert window.session.case.twin.structure("liver").info.critical
    window.menus.undo_action.trigger()
    window.menus.undo_action.trigger()
    assert window.view3d.scene.actor("liver") is liver_actor  # updated, not rebuilt
    assert liver_actor.GetVisibility()
    assert not window.session.case.twin.structure("liver").info.critical
    assert not window.session.dirty


def test_view_along_the_selected_needle_names_the_nearest_vessels(qtbot, sample_window):
    window = sample_window
    window.case_view.select_instrument("needle-2")
    window.menus.probe_action.trigger()
    caption = window.case_view.probe_caption("needle-2")
    assert caption.startswith("needle-2: portal vein 2.7 mm")
    camera = window.view3d.plotter.camera
    direction = np.subtract(camera.focal_point, camera.position)
    direction /= np.linalg.norm(direction)
    axis = window.session.placement("needle-2").axis
    assert float(direction @ axis) > 0.99  # looking along the shaft
