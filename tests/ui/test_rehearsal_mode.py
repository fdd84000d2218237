"""Rehearsal mode in the desktop app, driven with simulated key presses on the sample case.

needle-1 advanced 5 mm from its start pose: the run is sampled at 30 Hz, its path is the 5 mm
the keys moved it, the plan is unchanged, the run is in the case and in the history (which a
new window sees). needle-2 driven on past its target into the portal vein fails the safety
metrics. The planned trajectory's ghost is shown and hidden.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from surgiplan.rehearsal import AttemptHistory, case_runs, start_pose
from surgiplan.render.slices import Plane

LONG_MS = 180_000


def _activate(qtbot, window):
    window.activateWindow()
    widget = window.views[Plane.AXIAL]
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=5_000)


def _keys(qtbot, window, key, modifier, count: int, wait_ms: int = 0) -> None:
    for _ in range(count):
        QTest.keyClick(window, key, modifier)
        if wait_ms:
            qtbot.wait(wait_ms)


def _rehearse(qtbot, window, instrument: str) -> np.ndarray:
    """Select ``instrument`` and start with Ctrl+R; return its start tip (LPS mm)."""
    window.rehearsal.ask_trainee = lambda: "ana"
    window.case_view.select_instrument(instrument)
    _activate(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.rehearsal.active
    expected = start_pose(window.session.placement(instrument)).tip_lps_mm
    np.testing.assert_allclose(window.rehearsal.pose.tip_lps_mm, expected, atol=1e-9)
    return expected


def _stop_and_score(qtbot, window, stored: int):
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window, Qt.Key.Key_R, ctrl_shift)
    assert not window.rehearsal.active
    qtbot.waitUntil(lambda: len(window.session.case.rehearsals) == stored
                    and not window.rehearsal.scoring, timeout=LONG_MS)
    return case_runs(window.session.case)[-1]


def test_keyboard_rehearsal_is_sampled_scored_stored_and_kept(qtbot, sample_window):
    window = sample_window
    planned = window.session.case.plan.snapshot()
    undo_before = window.session.stack.undo_text
    start = _rehearse(qtbot, window, "needle-1")
    assert window.view3d.ghost_actor is not None
    assert not window.menus.place_action.isEnabled() and not window.menus.undo_action.isEnabled()
    axis = window.rehearsal.pose.axis
    _keys(qtbot, window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier, 5, wait_ms=50)
    qtbot.wait(100)
    assert window.session.case.plan.snapshot() == planned  # the plan is not driven
    assert window.session.stack.undo_text == undo_before  # and nothing went on the undo stack
    run = _stop_and_score(qtbot, window, stored=1)

    assert run.trainee == "ana" and run.instrument == "needle-1"
    np.testing.assert_allclose(np.diff(run.times_s), 1.0 / 30.0, atol=1e-9)
    assert run.times_s[0] == 0.0 and len(run.times_s) >= 10  # 350 ms or more at 30 Hz
    assert run.metrics.path_length_mm == pytest.approx(5.0, abs=1e-6)  # 5 x 1 mm advance
    np.testing.assert_allclose(run.tips_lps_mm[0], start, atol=1e-9)
    np.testing.assert_allclose(run.tips_lps_mm[-1], start + 5.0 * axis, atol=1e-6)
    assert run.passed  # still outside the skin
    assert window.session.case.plan.snapshot() == planned
    np.testing.assert_allclose(window.view3d.handle_centre,
                               window.session.placement("needle-1").tip_lps_mm, atol=1e-6)
    assert window.session.dirty and "rehearsal" in window.session.stack.undo_text
    assert "PASS" in window.rehearsal.last_result
    assert window.debrief.run.id == run.id  # the debrief opened on the scored run
    assert window.debrief.dock.isVisible()
    with AttemptHistory(window.history_path) as history:
        attempts = history.attempts("ana", window.rehearsal.history_key())
    assert [a.run_id for a in attempts] == [run.id]

    window.rehearsal.ask_export_path = lambda: window.files.autosave_dir / "runs.jsonl"
    path = window.rehearsal.export_runs()
    assert path.read_text().count("\n") == 1 and run.id in path.read_text()

    window.debrief.close_replay()
    window.debrief.dock.hide()
    offered = []
    window.rehearsal.ask_run = lambda runs: offered.extend(runs) or runs[-1]
    window.menus.debrief_action.trigger()  # Rehearse > Debrief of a stored run...
    assert [r.id for r in offered] == [run.id]
    assert window.debrief.run.id == run.id and window.debrief.dock.isVisible()


def test_driving_into_the_portal_vein_fails_and_history_survives_reopening(qtbot,
                                                                           sample_window):
    from surgiplan.ui.main_window import MainWindow
    from surgiplan.ui.welcome import RecentFiles

    window = sample_window
    _rehearse(qtbot, window, "needle-2")
    depth = window.session.placement("needle-2").insertion_depth_mm
    # 10 mm outside the entry: advance to the planned target, 8 mm in front of the right
    # portal branch's centre, then move posterior into the vein
    _keys(qtbot, window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier,
          int(round(10 + depth)), wait_ms=5)
    _keys(qtbot, window, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier, 8, wait_ms=5)
    qtbot.waitUntil(lambda: not window.live.runner.is_busy, timeout=LONG_MS)
    assert any(c.rule == "critical_breach" and "portal_vein" in c.structures
               for c in window.complications_panel.complications)  # live feedback
    run = _stop_and_score(qtbot, window, stored=1)
    safety = {m.name: m for m in run.safety}
    assert not run.passed
    assert not safety["critical_contacts"].passed and not safety["tissue_damage"].passed
    assert "portal_vein" in safety["critical_contacts"].detail
    assert "FAIL" in window.rehearsal.last_result
    qtbot.waitUntil(lambda: not window.live.runner.is_busy, timeout=LONG_MS)
    assert not any(c.rule == "critical_breach"  # back to the plan as planned
                   for c in window.complications_panel.complications)

    key = window.rehearsal.history_key()
    window.close()
    reopened = MainWindow(recent=RecentFiles(path=window.history_path.parent / "r.ini"),
                          autosave_ms=0, history_path=window.history_path)
    qtbot.addWidget(reopened)
    with AttemptHistory(reopened.history_path) as history:
        attempts = history.attempts("ana", key)
    assert [(a.run_id, a.passed) for a in attempts] == [(run.id, False)]


def test_ghost_toggle_and_abort(qtbot, sample_window):
    window = sample_window
    _rehearse(qtbot, window, "needle-1")
    ghost = window.view3d.ghost_actor
    assert ghost is not None
    bounds = np.asarray(ghost.GetBounds()).reshape(3, 2)
    placement = window.session.placement("needle-1")
    for point in (placement.entry_lps_mm, placement.target_lps_mm):
        assert np.all(bounds[:, 0] - 0.01 <= point) and np.all(point <= bounds[:, 1] + 0.01)
    window.menus.ghost_action.trigger()
    assert window.view3d.ghost_actor is None
    window.menus.ghost_action.trigger()
    assert window.view3d.ghost_actor is not None
    planned = window.session.case.plan.snapshot()
    target = np.asarray(placement.target_lps_mm)
    assert window.case_view.drag_tip(target)  # the tip handle released on the target
    np.testing.assert_allclose(window.rehearsal.pose.tip_lps_mm, target, atol=1e-9)
    np.testing.assert_allclose(window.view3d.handle_centre, target, atol=1e-6)
    assert window.session.case.plan.snapshot() == planned
    _activate(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert not window.rehearsal.active and window.view3d.ghost_actor is None
    assert window.session.case.rehearsals == []  # aborted: not scored, not stored
    assert window.menus.place_action.isEnabled()
