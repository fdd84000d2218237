"""Show the open case in every view and apply the user's edits through the case session.

Panels and views emit requests; this controller turns them into session calls (each one undo
step) and, on the session's events, refreshes what changed: the structures table, the 3D
scene, the slice overlays, the plan list, the window title, then asks for a live check.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from surgiplan.errors import SurgiPlanError
from surgiplan.events import Event
from surgiplan.plan.incision import trace_incision
from surgiplan.plan.measure import measure
from surgiplan.plan.model import Incision
from surgiplan.ui.live_check import Prepared
from surgiplan.ui.live_runner import LiveRunner

NUDGE_MM = 1.0
NUDGE_DEG = 2.0
_PANEL_NUDGES = {"tilt": "tilt_x"}


def _rgb255(colour) -> tuple[int, int, int]:
    return tuple(int(round(255 * float(c))) for c in colour[:3])


class CaseView(QObject):
    """Keeps the window's views in step with its :class:`CaseSession`."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.selected_instrument: str | None = None
        self._measured: dict = {}
        window.structures_panel.display_change_requested.connect(self._on_display_request)
        window.structures_panel.structure_change_requested.connect(self._on_structure_request)
        window.instruments_panel.place_requested.connect(
            lambda instrument_id: self.start_tool("place", instrument_id))
        window.instruments_panel.item_selected.connect(self._on_item_selected)
        window.instruments_panel.delete_requested.connect(
            lambda collection, item_id: self._edit(
                lambda s: s.remove_item(collection, item_id)))
        window.instruments_panel.nudge_requested.connect(
            lambda item_id, kind, amount: self.nudge(_PANEL_NUDGES.get(kind, kind), amount,
                                                     item_id))
        window.complications_panel.selected.connect(self._on_complication_selected)
        window.view_layout.clicked.connect(self._on_slice_click)
        window.view_layout.crosshair_moved.connect(self._on_crosshair)
        window.view3d.picked.connect(self._on_pick)
        window.tools.mode_changed.connect(self._on_mode_changed)
        window.tools.committed.connect(self._on_committed)
        window.tools.points_changed.connect(self._on_points_changed)
        self.preview_runner = LiveRunner(self)
        self.preview_runner.finished.connect(self._show_preview)
        self.preview_runner.failed.connect(lambda message: window.hint_label.setText(message))

    # ---- opening ------------------------------------------------------------------------
    def show_session(self, prepared: Prepared) -> None:
        """Make ``prepared.session`` the window's case and show it everywhere."""
        window = self.window
        old = window.session
        if old is not None:
            old.stack.events.disconnect(self._on_stack_event)
            old.structure_events.disconnect(self._on_structure_event)
        session = prepared.session
        window.session = session
        self.selected_instrument = None
        window.view3d.set_handle(None)
        window.tools.cancel()
        session.stack.events.connect(self._on_stack_event)
        session.structure_events.connect(self._on_structure_event)
        window.show_volume(session.case.volume)
        window.instruments_panel.set_catalogue(session.catalogue)
        window.live.attach(prepared)
        self.show_twin()
        window.view3d.show_plan(session.case.plan, session.catalogue, window.live.incision_paths)
        self.refresh_plan_list()
        window.structures_dock.show()
        window.structures_dock.raise_()
        self.refresh_title()
        window.menus.refresh()
        window.live.show_result()

    def show_twin(self) -> None:
        """Structures table, 3D surfaces and slice overlays from the session's twin."""
        twin = self.window.session.case.twin
        self.window.structures_panel.set_twin(twin)
        self.window.view3d.show_twin(twin)
        self.refresh_overlays()

    def refresh_overlays(self) -> None:
        twin = self.window.session.case.twin
        colours = {s.label: _rgb255(twin.display[s.name].colour)
                   for s in twin.labelmap.structures
                   if s.name in twin.display and twin.display[s.name].visible}
        self.window.view_layout.set_labels(twin.labelmap.labels, colours, 0.3)
        outlines = {name: (model.surface.vertices_lps_mm, model.surface.faces,
                           twin.display[name].colour)
                    for name, model in twin.structures.items()
                    if twin.display.get(name) is None or twin.display[name].visible}
        self.window.view_layout.set_outlines(outlines)

    def refresh_plan_list(self) -> None:
        """The plan list, with each measurement's value (computed by the core; kept per
        measurement since they are immutable)."""
        session = self.window.session
        notes = {}
        for item_id, measurement in session.case.plan.measurements.items():
            if measurement not in self._measured:
                try:
                    value = measure(session.case.twin, measurement)
                    self._measured[measurement] = f"{value.value:.1f} {value.unit}"
                except SurgiPlanError as exc:
                    self._measured[measurement] = f"cannot measure: {exc}"
            notes[item_id] = self._measured[measurement]
        self.window.instruments_panel.set_plan(session.case.plan, notes)

    def refresh_title(self) -> None:
        session = self.window.session
        self.window.setWindowTitle("SurgiPlan" if session is None
                                   else f"{session.title} - SurgiPlan")

    # ---- session events -----------------------------------------------------------------
    def _on_stack_event(self, _event: Event) -> None:
        window = self.window
        session = window.session
        window.live.request()  # first: the check runs while the views update
        self.refresh_plan_list()
        window.view3d.update_plan(session.case.plan, window.live.incision_paths)
        if self.selected_instrument not in session.case.plan.instruments:
            self.selected_instrument = None
        window.view3d.select_instrument(self.selected_instrument)
        self._place_handle()
        self.refresh_title()
        window.menus.refresh()

    def _on_structure_event(self, event: Event) -> None:
        window = self.window
        twin = window.session.case.twin
        if event.kind == "display" and event.item_id in twin.structures:
            window.view3d.set_display(event.item_id, twin.display[event.item_id])
            window.structures_panel.refresh(event.item_id)
            self.refresh_overlays()
            return
        if event.kind == "changed":  # tissue or critical flag: the rules see it, not the views
            window.structures_panel.refresh(event.item_id)
        elif event.kind == "renamed":
            self._show_renamed(event.item_id)
        else:  # a structure added or removed
            self.show_twin()
        window.live.invalidate()

    def _show_renamed(self, name: str) -> None:
        """A structure is now called ``name``: table (its row stays current), 3D actors (same
        camera), overlays; the plan list follows on the stack event and the complications
        with the live check."""
        window = self.window
        twin = window.session.case.twin
        window.structures_panel.refresh(name)
        window.view3d.scene.show_twin(twin, reset_camera=False)
        window.view3d.render()
        self.refresh_overlays()

    # ---- requests from panels and views ---------------------------------------------------
    def _edit(self, action) -> bool:
        session = self.window.session
        if session is None:
            return False
        if self.window.rehearsal.busy:
            self.window.show_message("The plan cannot be edited during a rehearsal: stop "
                                     "(Ctrl+Shift+R) or abort (Esc) it first")
            return False
        try:
            action(session)
        except SurgiPlanError as exc:
            self.window.show_error(str(exc))
            return False
        return True

    def _on_display_request(self, name: str, settings) -> None:
        self._edit(lambda s: s.set_display(name, settings))

    def _on_structure_request(self, name: str, changes: dict) -> None:
        if "name" in changes:
            if not self._edit(lambda s: s.rename_structure(name, str(changes["name"]))):
                self.window.structures_panel.refresh(name)  # the cell shows the kept name
            return
        self._edit(lambda s: s.edit_structure(name, **changes))

    def _on_item_selected(self, collection: str, item_id: str) -> None:
        self.selected_instrument = item_id if collection == "instruments" else None
        self.window.view3d.select_instrument(self.selected_instrument)
        self._place_handle()

    def select_instrument(self, item_id: str | None) -> None:
        self.selected_instrument = item_id
        if item_id is not None:
            self.window.instruments_panel.select_item("instruments", item_id)
        self.window.view3d.select_instrument(item_id)
        self._place_handle()

    def _place_handle(self) -> None:
        """The 3D drag handle on the selected instrument's tip (none without a selection)."""
        session = self.window.session
        if self.selected_instrument is None or session is None:
            self.window.view3d.set_handle(None)
            return
        tip = session.placement(self.selected_instrument).tip_lps_mm
        self.window.view3d.set_handle(tip, self.drag_tip)

    def drag_tip(self, tip_lps_mm) -> bool:
        """The handle was released at ``tip_lps_mm``: re-aim the selected instrument."""
        if self.window.rehearsal.active:
            return self.window.rehearsal.drag_tip(tip_lps_mm)
        item_id = self.selected_instrument
        if item_id is None:
            return False
        return self._edit(lambda s: s.aim_instrument(item_id, tip_lps_mm))

    def nudge(self, kind: str, amount: float, item_id: str | None = None) -> bool:
        """Move the selected (or given) instrument by one nudge; one undo step. During a
        rehearsal the nudge moves the rehearsed pose instead (no undo step)."""
        if self.window.rehearsal.active:
            return self.window.rehearsal.nudge(kind, amount)
        item_id = item_id or self.selected_instrument
        if item_id is None:
            self.window.show_message("Select an instrument first (Plan panel)")
            return False
        return self._edit(lambda s: s.nudge(item_id, kind, amount))

    def view_along_selected(self) -> None:
        """Probe's-eye view of the selected instrument, with its distance to each critical
        structure (from the latest check) written in the view."""
        session = self.window.session
        if self.selected_instrument is None or session is None:
            self.window.show_message("Select an instrument first (Plan panel)")
            return
        placement = session.placement(self.selected_instrument)
        self.window.view3d.view_along(placement)
        self.window.view3d.set_caption(self.probe_caption(placement.id))

    def probe_caption(self, item_id: str) -> str:
        """"<id>: portal vein 2.7 mm, aorta 31.0 mm..." nearest first (latest check)."""
        result = self.window.live.result
        findings = result.context.instruments.get(item_id) if result is not None else None
        if findings is None:
            return f"{item_id}: not checked yet"
        critical = {name for name, model in self.window.session.case.twin.structures.items()
                    if model.info.critical}
        distances = sorted((c.distance_mm, name) for name, c in findings.clearances.items()
                           if name in critical)
        text = ", ".join(f"{name.replace('_', ' ')} {d:.1f} mm" for d, name in distances[:4])
        return f"{item_id}: {text or 'no critical structure nearby'}"

    def _on_complication_selected(self, complication) -> None:
        location = complication.location_lps_mm
        if location is None:
            return
        point = np.asarray(location, dtype=float)
        self.window.view_layout.set_crosshair(point)
        self.window.view_layout.centre_on(point)
        self.window.view3d.focus(point)
        if complication.item_id in self.window.session.case.plan.instruments:
            self.select_instrument(complication.item_id)

    # ---- tools --------------------------------------------------------------------------
    def start_tool(self, mode: str, target: str = "") -> None:
        if self.window.session is None:
            self.window.show_error("import a scan or open a case first")
            return
        self.window.tools.start(mode, target)

    def _on_points_changed(self, points) -> None:
        """Live geodesic preview of the incision being drawn, traced in a worker."""
        tools = self.window.tools
        if tools.mode != "incision" or len(points) < 2 or self.window.session is None:
            self.window.view3d.set_preview(None)
            return
        surface = self.window.session.case.twin.structure(tools.target).surface
        incision = Incision("preview", tools.target, tuple(map(tuple, points)))
        self.preview_runner.request(lambda: trace_incision(incision, surface))

    def _show_preview(self, path, _latency_ms: float) -> None:
        if self.window.tools.mode != "incision":
            return
        self.window.view3d.set_preview(path.path_lps_mm)
        self.window.hint_label.setText(
            f"Incision {path.length_mm:.1f} mm: click more points, Enter finishes, "
            "Esc cancels")

    def _on_mode_changed(self, mode: str) -> None:
        self.window.menus.finish_action.setEnabled(mode == "incision")
        if mode != "incision":
            self.window.view3d.set_preview(None)
        picking = mode != "navigate"
        self.window.view_layout.set_tool("pick" if picking else "navigate")
        structures = [self.window.tools.target] if mode == "incision" else None
        self.window.view3d.set_pick_mode(picking, structures)

    def _on_slice_click(self, click) -> None:
        self.window.tools.click(click.point_lps_mm)

    def _on_pick(self, pick) -> None:
        self.window.tools.click(pick.point_lps_mm, pick.structure)

    def _on_crosshair(self, point_lps_mm) -> None:
        self.window.view3d.focus(np.asarray(point_lps_mm, dtype=float))

    def shutdown(self) -> None:
        self.preview_runner.shutdown()

    def _on_committed(self, collection: str, item_id: str) -> None:
        if collection == "instruments":
            self.select_instrument(item_id)
        self.window.show_message(f"Added {item_id}")
