"""Renaming a structure in the app: the Name cell renames it everywhere, Ctrl+Z gives the old
name back, a refused name says why and changes nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from surgiplan.ui.layout import Plane
from surgiplan.ui.structures_panel import NAME

OLD, NEW = "portal_vein", "portal_vein_main"
LONG_MS = 180_000


def _wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.runner.busy and not window.live.runner.is_busy,
                    timeout=LONG_MS)


def _name_cell(window, name: str):
    model = window.structures_panel.model
    return model.index(model.names.index(name), NAME)


def _margin_structures(window) -> list[tuple[str, ...]]:
    return [c.structures for c in window.complications_panel.complications
            if c.rule == "safety_margin" and c.item_id == "needle-2"]


def _plan_details(window) -> list[str]:
    return [row.text(1) for row in window.instruments_panel._rows()]


def _shown_everywhere(window, name: str) -> bool:
    """The table, the 3D actors and the slice outlines all know ``name``."""
    outlines = window.view_layout.views[Plane.AXIAL]._outline_sources
    return (name in window.structures_panel.model.names
            and name in window.view3d.scene.structures and name in outlines)


def test_name_cell_renames_everywhere_and_ctrl_z_restores(qtbot, sample_window):
    window = sample_window
    session = window.session
    session.add_measurement("structure_structure", structures=(OLD, "aorta"))
    _wait_idle(qtbot, window)
    assert _margin_structures(window) == [(OLD,)]
    row = window.structures_panel.model.names.index(OLD)
    window.structures_panel.select(OLD)

    assert window.structures_panel.model.setData(_name_cell(window, OLD), NEW)
    _wait_idle(qtbot, window)
    assert window.error_box is None
    assert list(session.case.twin.structures)[row] == NEW
    assert _shown_everywhere(window, NEW) and not _shown_everywhere(window, OLD)
    assert window.structures_panel.current_name() == NEW
    assert window.structures_panel.model.data(_name_cell(window, NEW)) == NEW
    assert f"{NEW} to aorta" in " ".join(_plan_details(window))
    assert _margin_structures(window) == [(NEW,)]
    assert window.menus.undo_action.text() == f"&Undo rename {OLD} to {NEW}"

    window.activateWindow()
    window.views[Plane.AXIAL].setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.views[Plane.AXIAL],
                    timeout=5_000)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _wait_idle(qtbot, window)
    assert list(session.case.twin.structures)[row] == OLD
    assert _shown_everywhere(window, OLD) and not _shown_everywhere(window, NEW)
    assert f"{OLD} to aorta" in " ".join(_plan_details(window))
    assert _margin_structures(window) == [(OLD,)]

    window.menus.redo()
    _wait_idle(qtbot, window)
    assert _shown_everywhere(window, NEW) and _margin_structures(window) == [(NEW,)]
    window.menus.undo()
    _wait_idle(qtbot, window)
    assert _shown_everywhere(window, OLD) and _margin_structures(window) == [(OLD,)]


def test_a_refused_name_says_why_and_changes_nothing(qtbot, sample_window):
    window = sample_window
    session = window.session
    names = list(session.case.twin.structures)
    undo_text = window.menus.undo_action.text()
    for name, problem in (("aorta", "already exists"), ("portal vein", "cannot name"),
                          ("", "needs a name")):
        assert window.structures_panel.model.setData(_name_cell(window, OLD), name)
        assert problem in window.error_box.text()
        window.error_box.close()
        assert list(session.case.twin.structures) == names
        assert window.structures_panel.model.data(_name_cell(window, OLD)) == OLD
    assert window.menus.undo_action.text() == undo_text and not session.dirty
