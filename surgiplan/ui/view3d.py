"""The 3D view: pyvistaqt's interactor showing a :class:`~surgiplan.render.scene.TwinScene`.

A thin Qt layer: the scene (no Qt) owns the actors; this widget forwards calls to it, renders
once per call, turns left clicks into picks (when a pick mode is on) and mouse rests into the
name of the structure under the cursor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.render.offscreen import write_png
from surgiplan.render.scene import Pick, TwinScene
from surgiplan.twin.twin import DisplaySettings, PatientTwin

BACKGROUND = (0.08, 0.09, 0.11)
PREVIEW_COLOUR = (1.0, 0.85, 0.2)
HANDLE_COLOUR = (1.0, 0.95, 0.3)
HANDLE_RADIUS_MM = 3.0
GHOST_COLOUR = (0.35, 0.95, 0.65)
GHOST_OPACITY = 0.35
GHOST_RADIUS_MM = 1.5
CLICK_SLOP_PX = 4
"""A press and release farther apart than this is a drag (rotate), not a pick."""
HOVER_DELAY_MS = 120
"""The cursor must rest this long before the structure under it is looked up."""
SEE_THROUGH_BELOW = 0.5
"""Without a list of pickable structures, surfaces more transparent than this (a translucent
body outline) are seen through by clicks and hovering, unless nothing else is hit."""


class _Interactor(QtInteractor):
    """pyvista renders inside many calls (adding or removing an actor...); here those renders
    go through the view's scheduler, so one event-loop turn costs at most one render."""

    schedule = None  # set by View3D: callable that schedules a render

    def render(self) -> None:
        if self.schedule is not None:
            self.schedule()
        else:
            super().render()

    def render_now(self) -> None:
        super().render()


class View3D(QWidget):
    """The twin and plan in 3D (world = patient LPS mm).

    Signals
    -------
    picked(object)
        A :class:`~surgiplan.render.scene.Pick` (point LPS mm, structure) on a left click
        (not a drag) while :attr:`pick_mode` is on.
    hovered_structure(str)
        Name of the structure under the resting cursor; ``""`` when it leaves all of them.
    """

    picked = Signal(object)
    hovered_structure = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plotter = _Interactor(self, auto_update=False, multi_samples=1)
        self.plotter.background_color = BACKGROUND
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plotter)
        self.scene = TwinScene(self.plotter)
        self._pick_mode = False
        self._pick_structures: frozenset[str] | None = None
        self._press: QPointF | None = None
        self._cursor: QPointF | None = None
        self._hovered = ""
        self._render_started = 0.0
        self._render_ms = 0.0
        window = self.plotter.render_window
        window.AddObserver("StartEvent", self._on_render_start)
        window.AddObserver("EndEvent", self._on_render_end)
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(HOVER_DELAY_MS)
        self._hover_timer.timeout.connect(self._on_hover_rest)
        self.plotter.installEventFilter(self)
        self._closed = False
        self._handle = None
        self._on_handle: Callable[[np.ndarray], None] | None = None
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self.plotter.update)  # one paintGL = one render
        self.plotter.schedule = self.render
        self._held = False
        self._render_wanted = False
        self._hold_timer = QTimer(self)
        self._hold_timer.setSingleShot(True)
        self._hold_timer.timeout.connect(lambda: self.hold_renders(False))

    # ---- state --------------------------------------------------------------------------
    @property
    def render_time_ms(self) -> float:
        """Duration of the last render (ms), for the status bar."""
        return self._render_ms

    @property
    def pick_mode(self) -> bool:
        return self._pick_mode

    def set_pick_mode(self, enabled: bool, structures: Collection[str] | None = None) -> None:
        """Emit :attr:`picked` on left clicks; only on ``structures`` when given."""
        self._pick_mode = bool(enabled)
        self._pick_structures = None if structures is None else frozenset(structures)

    def render(self) -> None:
        """Redraw on the next event-loop turn: the calls made in one turn (highlight,
        deformation, plan update...) cost one render. While held (:meth:`hold_renders`), the
        render waits for the release."""
        if self._closed:
            return
        if self._held:
            self._render_wanted = True
        elif not self._render_timer.isActive():
            self._render_timer.start()

    def hold_renders(self, hold: bool, max_ms: int = 250) -> None:
        """Hold renders (e.g. until a running simulation answers, so its result is shown at
        once and drawn in the same frame); released by ``hold_renders(False)`` or after
        ``max_ms``."""
        if hold:
            self._held = True
            self._hold_timer.start(max_ms)
            return
        self._hold_timer.stop()
        self._held = False
        if self._render_wanted:
            self._render_wanted = False
            self.render()

    def render_now(self) -> None:
        """Redraw immediately (pictures, picks, benchmarks)."""
        self._render_timer.stop()
        if not self._closed:
            self.plotter.render_now()

    @property
    def render_pending(self) -> bool:
        return self._render_timer.isActive()

    # ---- forwarding to the scene --------------------------------------------------------
    def show_twin(self, twin: PatientTwin) -> None:
        self.scene.show_twin(twin)
        self.render()

    def set_display(self, name: str, settings: DisplaySettings) -> None:
        self.scene.set_display(name, settings)
        self.render()

    def set_deformed(self, name: str, vertices_lps_mm: np.ndarray) -> None:
        self.scene.set_deformed(name, vertices_lps_mm)
        self.render()

    def show_plan(self, plan: Plan, catalogue: Catalogue,
                  incision_paths: Mapping[str, np.ndarray] | None = None) -> None:
        self.scene.show_plan(plan, catalogue, incision_paths)
        self.render()

    def update_plan(self, plan: Plan,
                    incision_paths: Mapping[str, np.ndarray] | None = None) -> None:
        self.scene.update_plan(plan, incision_paths)
        self.render()

    def select_instrument(self, instrument_id: str | None) -> None:
        self.scene.select_instrument(instrument_id)
        self.render()

    def highlight(self, structures: Collection[str] = (),
                  segments_lps_mm: np.ndarray | None = None) -> None:
        self.scene.highlight(tuple(structures), segments_lps_mm)
        self.render()

    def clear_highlight(self) -> None:
        self.scene.clear_highlight()
        self.render()

    def set_preview(self, points_lps_mm: np.ndarray | None) -> None:
        """A polyline being drawn (the incision preview), or ``None`` to remove it."""
        self.plotter.remove_actor("preview", render=False)
        if points_lps_mm is not None and len(points_lps_mm) >= 2:
            line = pv.lines_from_points(np.asarray(points_lps_mm, dtype=float))
            self.plotter.add_mesh(line, color=PREVIEW_COLOUR, line_width=4, name="preview",
                                  pickable=False, reset_camera=False)
        self.render()

    def set_ghost(self, entry_lps_mm: np.ndarray | None,
                  target_lps_mm: np.ndarray | None = None) -> None:
        """A translucent tube along a planned path (entry -> target, LPS mm), the rehearsal's
        "ghost"; ``None`` removes it."""
        self.plotter.remove_actor("ghost", render=False)
        if entry_lps_mm is not None and target_lps_mm is not None:
            tube = pv.Tube(pointa=np.asarray(entry_lps_mm, dtype=float),
                           pointb=np.asarray(target_lps_mm, dtype=float),
                           radius=GHOST_RADIUS_MM, n_sides=16)
            self.plotter.add_mesh(tube, color=GHOST_COLOUR, opacity=GHOST_OPACITY, name="ghost",
                                  pickable=False, reset_camera=False, render=False)
        self.render()

    @property
    def ghost_actor(self):
        """The ghost's actor, or ``None`` when it is not shown."""
        return self.plotter.actors.get("ghost")

    def set_handle(self, point_lps_mm: np.ndarray | None,
                   on_moved: Callable[[np.ndarray], None] | None = None) -> None:
        """A draggable sphere at ``point_lps_mm`` (the selected instrument's tip): releasing
        it calls ``on_moved`` with its new centre (LPS mm). ``None`` removes it."""
        if point_lps_mm is None:
            if self._handle is not None:
                self.plotter.clear_sphere_widgets()
                self._handle = None
                self.render()
            return
        centre = np.asarray(point_lps_mm, dtype=float)
        self._on_handle = on_moved
        if self._handle is None:
            self._handle = self.plotter.add_sphere_widget(
                self._handle_released, center=centre, radius=HANDLE_RADIUS_MM,
                color=HANDLE_COLOUR, selected_color="white", test_callback=False)
        else:
            self._handle.SetCenter(*centre)
        self.render()

    @property
    def handle_centre(self) -> np.ndarray | None:
        return None if self._handle is None else np.array(self._handle.GetCenter())

    def _handle_released(self, centre) -> None:
        if self._on_handle is not None:
            self._on_handle(np.asarray(centre, dtype=float))

    def set_caption(self, text: str) -> None:
        """Text in the upper left corner of the view ("" removes it)."""
        self.plotter.remove_actor("caption", render=False)
        if text:
            self.plotter.add_text(text, position="upper_left", font_size=10, name="caption",
                                  color="white")
        self.render()

    def view_anterior(self) -> None:
        self.set_caption("")
        self.scene.view_anterior()
        self.render()

    def view_lateral(self, side: str = "right") -> None:
        self.set_caption("")
        self.scene.view_lateral(side)
        self.render()

    def view_along(self, placement: InstrumentPlacement) -> None:
        self.scene.view_along(placement)
        self.render()

    def view_approach(self, placements) -> bool:
        """Look along the planned approach: the instruments' mean path direction at the
        centre of their targets, head up, as the report's approach view
        (:func:`surgiplan.report.pictures.approach_camera`). ``False`` when no placement has
        a path."""
        from surgiplan.report.pictures import approach_camera

        camera = approach_camera(list(placements))
        if camera is None:
            return False
        self.set_caption("")
        self.scene.view_from(camera.direction, camera.focus_lps_mm, camera.distance_mm,
                             camera.up)
        self.render()
        return True

    def focus(self, point_lps_mm) -> None:
        self.scene.focus(point_lps_mm)
        self.render()

    # ---- pictures and picking -----------------------------------------------------------
    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Write the view as PNG (atomically); return the path."""
        self.render_now()
        return write_png(np.asarray(self.plotter.screenshot(return_img=True))[..., :3], path)

    def to_display(self, position: QPointF) -> tuple[float, float]:
        """VTK display coordinates (pixels, origin bottom left) of a widget position."""
        scale = self.plotter.devicePixelRatioF()
        height = self.plotter.render_window.GetSize()[1]
        return position.x() * scale, height - 1 - position.y() * scale

    def from_display(self, x: float, y: float) -> QPointF:
        """Widget position of VTK display coordinates (inverse of :meth:`to_display`)."""
        scale = self.plotter.devicePixelRatioF()
        height = self.plotter.render_window.GetSize()[1]
        return QPointF(x / scale, (height - 1 - y) / scale)

    def pick_at(self, position: QPointF,
                structures: Collection[str] | None = None) -> Pick | None:
        """The structure surface point under a widget position, or ``None``.

        With ``structures`` only those are picked; otherwise the first fairly opaque surface
        (see :data:`SEE_THROUGH_BELOW`), else the first visible one.
        """
        if self.render_pending:
            self.render_now()
        x, y = self.to_display(position)
        if structures is not None:
            return self.scene.pick(x, y, structures=structures)
        return (self.scene.pick(x, y, min_opacity=SEE_THROUGH_BELOW)
                or self.scene.pick(x, y))

    # ---- Qt events ----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.plotter and isinstance(event, QMouseEvent):
            self._on_mouse(event)
        elif watched is self.plotter and event.type() == QEvent.Type.Leave:
            self._hover_timer.stop()
            self._set_hovered("")
        return super().eventFilter(watched, event)

    def _on_mouse(self, event: QMouseEvent) -> None:
        kind, left = event.type(), event.button() == Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress and left:
            self._press = event.position()
        elif kind == QEvent.Type.MouseButtonRelease and left:
            press, self._press = self._press, None
            moved = press is None or (event.position() - press).manhattanLength() > CLICK_SLOP_PX
            if self._pick_mode and not moved:
                pick = self.pick_at(event.position(), self._pick_structures)
                if pick is not None:
                    self.picked.emit(pick)
        elif kind == QEvent.Type.MouseMove and event.buttons() == Qt.MouseButton.NoButton:
            self._cursor = event.position()
            self._hover_timer.start()

    def _on_hover_rest(self) -> None:
        if self._cursor is not None and not self._closed:
            pick = self.pick_at(self._cursor)
            self._set_hovered(pick.structure if pick is not None else "")

    def _set_hovered(self, name: str) -> None:
        if name != self._hovered:
            self._hovered = name
            self.hovered_structure.emit(name)

    def _on_render_start(self, *_args) -> None:
        self._render_started = time.perf_counter()

    def _on_render_end(self, *_args) -> None:
        self._render_ms = 1000.0 * (time.perf_counter() - self._render_started)

    def shutdown(self) -> None:
        """Release the OpenGL window (call before the application quits)."""
        if not self._closed:
            self._closed = True
            self._hover_timer.stop()
            self._render_timer.stop()
            self._hold_timer.stop()
            self.plotter.removeEventFilter(self)
            self.plotter.close()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
