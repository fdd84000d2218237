"""The view layouts: four-up (three slices and 3D), 3D only, one slice beside 3D.

The three :class:`SliceView` share one crosshair and one window: placing the crosshair in one
moves the others to the slices through that point; a window/level drag in one applies to all.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from surgiplan.imaging import Volume
from surgiplan.render.slices import Plane, WindowLevel
from surgiplan.ui.slice_view import SliceView

MODES = ("four_up", "3d_only", "slice_3d")


class ViewLayout(QWidget):
    """Axial, coronal and sagittal :class:`SliceView` plus a 3D widget, arranged by mode.

    Parameters
    ----------
    view3d : QWidget, optional
        The 3D view (any widget; a blank placeholder when omitted).

    Attributes
    ----------
    views : dict of Plane to SliceView
    view3d : QWidget
    mode : str
        ``"four_up"``, ``"3d_only"`` or ``"slice_3d"``.
    main_slice : Plane
        The slice shown beside the 3D view in ``"slice_3d"``.

    Signals
    -------
    crosshair_moved(point_lps_mm)
        The user placed the crosshair in a slice ((3,) LPS mm); the views already follow.
    clicked(SliceClick)
        A left click in any slice image.
    window_changed(WindowLevel)
        The user dragged window/level in a slice; all slices already show it.
    """

    crosshair_moved = Signal(object)
    clicked = Signal(object)
    window_changed = Signal(object)

    def __init__(self, view3d: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view3d = view3d if view3d is not None else QWidget()
        self.views = {plane: SliceView(plane) for plane in Plane}
        self.mode = "four_up"
        self.main_slice = Plane.AXIAL
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        for view in self.views.values():
            view.crosshair_moved.connect(self.set_crosshair)
            view.crosshair_moved.connect(self.crosshair_moved)
            view.clicked.connect(self.clicked)
            view.window_changed.connect(self._on_window_dragged)
        self._arrange()

    # ---- layout -------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Arrange the views: ``"four_up"``, ``"3d_only"`` or ``"slice_3d"``."""
        if mode not in MODES:
            raise ValueError(f"unknown layout {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self._arrange()

    def set_main_slice(self, plane: Plane) -> None:
        """The slice shown beside the 3D view in ``"slice_3d"`` mode."""
        self.main_slice = Plane(plane)
        self._arrange()

    def _positions(self) -> dict[QWidget, tuple[int, int]]:
        """Grid cell (row, column) of each widget shown in the current mode."""
        if self.mode == "3d_only":
            return {self.view3d: (0, 0)}
        if self.mode == "slice_3d":
            return {self.views[self.main_slice]: (0, 0), self.view3d: (0, 1)}
        return {self.views[Plane.AXIAL]: (0, 0), self.view3d: (0, 1),
                self.views[Plane.CORONAL]: (1, 0), self.views[Plane.SAGITTAL]: (1, 1)}

    def _arrange(self) -> None:
        positions = self._positions()
        for widget in (*self.views.values(), self.view3d):
            self._grid.removeWidget(widget)
        for widget in (*self.views.values(), self.view3d):
            if widget in positions:
                self._grid.addWidget(widget, *positions[widget])
            widget.setVisible(widget in positions)
        rows = {row for row, _ in positions.values()}
        columns = {column for _, column in positions.values()}
        for n in range(2):
            self._grid.setRowStretch(n, 1 if n in rows else 0)
            self._grid.setColumnStretch(n, 1 if n in columns else 0)
        self._grid.activate()

    # ---- content, forwarded to the three slices --------------------------------------------
    def set_volume(self, volume: Volume, window: WindowLevel) -> None:
        """Show ``volume`` in every slice, the crosshair on the middle voxel (i, j, k halved)."""
        for view in self.views.values():
            view.set_volume(volume, window)
        middle_ijk = np.array(volume.shape[::-1]) // 2
        self.set_crosshair(volume.ijk_to_lps([middle_ijk])[0])

    def set_window(self, window: WindowLevel) -> None:
        for view in self.views.values():
            view.set_window(window)

    def set_labels(self, labels_kji: np.ndarray | None, colours: dict[int, tuple[int, int, int]],
                   opacity: float = 0.4) -> None:
        """See :meth:`SliceView.set_labels`."""
        for view in self.views.values():
            view.set_labels(labels_kji, colours, opacity)

    def set_outlines(self, meshes: dict[str, tuple[np.ndarray, np.ndarray, tuple]]) -> None:
        """See :meth:`SliceView.set_outlines`."""
        for view in self.views.values():
            view.set_outlines(meshes)

    def set_tool(self, tool: str) -> None:
        """``"navigate"`` or ``"pick"`` in every slice."""
        for view in self.views.values():
            view.tool = tool

    def set_crosshair(self, point_lps_mm: np.ndarray) -> None:
        """Put the crosshair at an LPS point (mm) in every slice, each on its slice through it."""
        for view in self.views.values():
            view.set_crosshair(point_lps_mm)

    def centre_on(self, point_lps_mm: np.ndarray) -> None:
        """Crosshair at an LPS point (mm), centred in every slice."""
        self.set_crosshair(point_lps_mm)
        for view in self.views.values():
            view.centre_on(point_lps_mm)

    def _on_window_dragged(self, window: WindowLevel) -> None:
        for view in self.views.values():
            if view.window != window:
                view.set_window(window)
        self.window_changed.emit(window)
