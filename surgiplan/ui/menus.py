"""Menus, toolbar and keyboard shortcuts of the main window (each action calls a controller)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QAction, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QFileDialog, QMenu

from surgiplan.errors import SurgiPlanError
from surgiplan.segmentation.presets import load_presets
from surgiplan.ui.thresholds_dialog import edit_thresholds

LAYOUTS = (("Four views", "four_up"), ("3D only", "3d_only"), ("One slice + 3D", "slice_3d"))
NUDGES = (
    ("Advance 1 mm", "Ctrl+Up", "advance", 1.0), ("Retract 1 mm", "Ctrl+Down", "advance", -1.0),
    ("Tilt left 2 deg", "Ctrl+Left", "tilt_y", -2.0),
    ("Tilt right 2 deg", "Ctrl+Right", "tilt_y", 2.0),
    ("Tilt up 2 deg", "Ctrl+PgUp", "tilt_x", 2.0),
    ("Tilt down 2 deg", "Ctrl+PgDown", "tilt_x", -2.0),
    ("Move left 1 mm", "Alt+Left", "shift_l", 1.0),
    ("Move right 1 mm", "Alt+Right", "shift_l", -1.0),
    ("Move posterior 1 mm", "Alt+Down", "shift_p", 1.0),
    ("Move anterior 1 mm", "Alt+Up", "shift_p", -1.0),
    ("Move superior 1 mm", "Alt+PgUp", "shift_s", 1.0),
    ("Move inferior 1 mm", "Alt+PgDown", "shift_s", -1.0),
)


class Menus:
    """The window's actions; :meth:`refresh` enables them for the current state."""

    def __init__(self, window) -> None:
        self.window = window
        self.case_actions: list[QAction] = []
        bar = window.menuBar()
        self._file_menu(bar.addMenu("&File"))
        self._edit_menu(bar.addMenu("&Edit"))
        self._view_menu(bar.addMenu("&View"))
        self._twin_menu(bar.addMenu("&Twin"))
        self._plan_menu(bar.addMenu("&Plan"))
        self._rehearse_menu(bar.addMenu("&Rehearse"))
        self._toolbar()
        self.refresh()

    def _action(self, menu: QMenu, text: str, slot, shortcut=None, *, case: bool = False
                ) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: self._guarded(slot))
        menu.addAction(action)
        if case:
            self.case_actions.append(action)
        return action

    def _guarded(self, slot) -> None:
        try:
            slot()
        except SurgiPlanError as exc:
            self.window.show_error(str(exc))

    def _file_menu(self, menu: QMenu) -> None:
        w = self.window
        self.sample_action = self._action(menu, "Open &sample case", w.files.open_sample)
        self.open_action = self._action(menu, "&Open case...", w.files.choose_case,
                                        QKeySequence.StandardKey.Open)
        self.import_action = self._action(menu, "&Import DICOM folder...",
                                          w.twin_flow.choose_folder, "Ctrl+I")
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        self.save_action = self._action(menu, "&Save", w.files.save,
                                        QKeySequence.StandardKey.Save, case=True)
        self.save_as_action = self._action(menu, "Save &as...", w.files.save_as,
                                           "Ctrl+Shift+S", case=True)
        self.export_action = self._action(menu, "&Export volume...", w.twin_flow.choose_export,
                                          case=True)
        self.report_action = self._action(menu, "Export &report (PDF)...",
                                          w.report_export.choose, "Ctrl+Shift+E", case=True)
        self.screenshot_action = self._action(menu, "Screens&hot...", self.screenshot,
                                              "Ctrl+Shift+P")
        menu.addSeparator()
        self._action(menu, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    def _edit_menu(self, menu: QMenu) -> None:
        self.undo_action = self._action(menu, "&Undo", self.undo, "Ctrl+Z")
        self.redo_action = self._action(menu, "&Redo", self.redo, "Ctrl+Shift+Z")

    def _view_menu(self, menu: QMenu) -> None:
        w = self.window
        for text, mode in LAYOUTS:
            self._action(menu, text, lambda mode=mode: w.view_layout.set_mode(mode))
        menu.addSeparator()
        self._action(menu, "3D from the &front", w.view3d.view_anterior)
        self._action(menu, "3D from the &side", w.view3d.view_lateral)
        self.approach_action = self._action(menu, "3D along the planned &approach",
                                            self.view_approach, case=True)
        self.probe_action = self._action(menu, "3D along the selected &instrument",
                                         self.view_along, "Ctrl+E", case=True)
        self._action(menu, "&Welcome page", lambda: w.pages.setCurrentIndex(0))

    def _twin_menu(self, menu: QMenu) -> None:
        w = self.window
        presets = menu.addMenu("Add from &preset")
        self.preset_actions = {
            name: self._action(presets, name.replace("_", " "),
                               lambda name=name: w.twin_flow.add_preset(name), case=True)
            for name in load_presets()}
        self.seed_action = self._action(menu, "&Grow from a seed click...",
                                        w.twin_flow.start_seed, "Ctrl+G", case=True)
        self.labels_action = self._action(menu, "&Import label map...",
                                          w.twin_flow.choose_labels, case=True)

    def _plan_menu(self, menu: QMenu) -> None:
        w = self.window
        self.incision_action = self._action(
            menu, "Draw &incision on the skin",
            lambda: w.case_view.start_tool("incision", "skin"), "Ctrl+K", case=True)
        self.place_action = self._action(menu, "&Place the chosen instrument",
                                         self.place_selected, "Ctrl+P", case=True)
        self.measure_action = self._action(
            menu, "&Measure a distance", lambda: w.case_view.start_tool("measure"), "Ctrl+M",
            case=True)
        self.finish_action = self._action(menu, "&Finish the incision", w.tools.finish,
                                          "Return")
        self.cancel_tool_action = self._action(menu, "&Cancel the tool", w.tools.cancel, "Esc")
        menu.addSeparator()
        self.thresholds_action = self._action(menu, "Complication &thresholds...",
                                              lambda: edit_thresholds(w), case=True)
        nudges = menu.addMenu("&Move the selected instrument")
        self.nudge_actions = [
            self._action(nudges, text, lambda kind=kind, amount=amount:
                         w.case_view.nudge(kind, amount), key, case=True)
            for text, key, kind, amount in NUDGES]

    def _rehearse_menu(self, menu: QMenu) -> None:
        r = self.window.rehearsal
        self.rehearse_action = self._action(menu, "&Start rehearsal of the selected instrument",
                                            r.start, "Ctrl+R", case=True)
        self.stop_action = self._action(menu, "Stop and s&core", r.stop, "Ctrl+Shift+R")
        self.abort_action = self._action(menu, "&Abort the rehearsal", r.abort, "Esc")
        self.ghost_action = QAction("Show the &planned trajectory", self.window, checkable=True,
                                    checked=r.show_ghost)
        self.ghost_action.toggled.connect(r.set_ghost_visible)
        menu.addAction(self.ghost_action)
        menu.addSeparator()
        self.trainee_action = self._action(menu, "Change &trainee...", r.change_trainee)
        self.debrief_action = self._action(menu, "&Debrief of a stored run...",
                                           r.debrief_stored, case=True)
        self.export_runs_action = self._action(menu, "&Export runs as JSON Lines...",
                                               r.export_runs, case=True)

    def _toolbar(self) -> None:
        bar = self.window.addToolBar("Tools")
        bar.setObjectName("Tools")
        for name in ("skin", "bone", "lung", "vessels"):
            if name in self.preset_actions:
                bar.addAction(self.preset_actions[name])
        bar.addSeparator()
        for action in (self.seed_action, self.incision_action, self.place_action,
                       self.measure_action, self.undo_action, self.redo_action):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(self.rehearse_action)
        bar.addAction(self.stop_action)

    # ---- actions ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Enable what the current session allows; Undo/Redo name what they would do."""
        session = self.window.session
        rehearsal = self.window.rehearsal
        busy = rehearsal.busy  # driving or scoring: only the nudges move (the rehearsed pose)
        self.finish_action.setEnabled(self.window.tools.mode == "incision" and not busy)
        allowed = ({*self.nudge_actions, self.probe_action, self.approach_action} if busy
                   else set(self.case_actions))
        for action in self.case_actions:
            action.setEnabled(session is not None and action in allowed)
        for action in (self.sample_action, self.open_action, self.import_action,
                       self.recent_menu.menuAction()):
            action.setEnabled(not busy)
        self.stop_action.setEnabled(rehearsal.active)
        self.abort_action.setEnabled(rehearsal.active)  # Esc aborts, else cancels the tool
        self.cancel_tool_action.setEnabled(not rehearsal.active)
        self.window.instruments_panel.setEnabled(not busy)
        stack = session.stack if session is not None and not busy else None
        self.undo_action.setEnabled(bool(stack and stack.can_undo))
        self.redo_action.setEnabled(bool(stack and stack.can_redo))
        self.undo_action.setText(f"&Undo {stack.undo_text}" if stack and stack.can_undo
                                 else "&Undo")
        self.redo_action.setText(f"&Redo {stack.redo_text}" if stack and stack.can_redo
                                 else "&Redo")

    def undo(self) -> None:
        session = self.window.session
        if session is not None and session.stack.can_undo:
            session.undo()

    def redo(self) -> None:
        session = self.window.session
        if session is not None and session.stack.can_redo:
            session.redo()

    def place_selected(self) -> None:
        instrument_id = self.window.instruments_panel.selected_instrument()
        if instrument_id is None:
            self.window.show_error("choose an instrument in the Plan panel's catalogue first")
            return
        self.window.case_view.start_tool("place", instrument_id)

    def view_approach(self) -> None:
        plan = self.window.session.case.plan
        if not self.window.view3d.view_approach(plan.instruments.values()):
            self.window.show_error("no instrument of the plan has a path yet: place one from "
                                   "an entry and a target first (Plan > Place)")

    def view_along(self) -> None:
        self.window.case_view.view_along_selected()

    def screenshot(self, path: Path | None = None) -> Path | None:
        """Save a picture of the whole window (PNG)."""
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Screenshot", "surgiplan.png",
                                                    "PNG pictures (*.png)")
            if not chosen:
                return None
            path = Path(chosen)
        if not window_picture(self.window).save(str(path), "PNG"):
            self.window.show_error(f"cannot write {path}: choose a writable folder")
            return None
        self.window.show_message(f"Saved {path}")
        return Path(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.window.files.recent.paths():
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.window.files.open_recent(p))


def window_picture(window) -> QPixmap:
    """The whole window as a pixmap, with the 3D view's OpenGL picture painted in (a plain
    widget grab can leave an OpenGL area black)."""
    view = window.view3d
    view.render_now()
    picture = window.grab()
    if view.isVisible() and view.width() > 0:
        rgb = np.ascontiguousarray(view.plotter.screenshot(return_img=True)[..., :3])
        height, width = rgb.shape[:2]
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        painter = QPainter(picture)
        painter.drawImage(QRect(view.mapTo(window, QPoint(0, 0)), view.size()), image)
        painter.end()
    return picture


def build_menus(window) -> None:
    """Create the window's menus and toolbar as ``window.menus``."""
    window.menus = Menus(window)
