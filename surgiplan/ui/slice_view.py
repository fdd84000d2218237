"""One voxel-axis slice of the volume: grey image, label colours, mesh outlines, crosshair.

Mouse: wheel = next/previous slice; Ctrl+wheel = zoom about the cursor; middle-drag or
Shift+left-drag = pan; right-drag = window/level (horizontal: width, vertical: centre); left
click = :attr:`SliceView.clicked`, and with the ``"navigate"`` tool it also places the
crosshair (left-drag moves it). All geometry comes from :mod:`surgiplan.render` (no maths here
beyond the zoom/pan transform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from surgiplan.imaging import Volume
from surgiplan.render.overlays import MeshCutter, crosshair_pixel, label_overlay, pixel_to_lps
from surgiplan.render.slices import (
    Plane,
    PlaneImage,
    WindowLevel,
    display_to_ijk,
    extract_plane,
    plane_count,
    slice_through,
    to_display,
)

TOOLS = ("navigate", "pick")
ZOOM_STEP = 1.25
CROSSHAIR_COLOUR = QColor(255, 215, 0)


@dataclass(frozen=True)
class SliceClick:
    """A left click in a slice image.

    Attributes
    ----------
    point_lps_mm : (3,) float ndarray
        The clicked point on the slice, patient LPS millimetres (sub-voxel).
    ijk : tuple of int
        The voxel (i, j, k) under the click.
    plane : Plane
        The view's plane.
    button : Qt.MouseButton
    modifiers : Qt.KeyboardModifier
    """

    point_lps_mm: np.ndarray
    ijk: tuple[int, int, int]
    plane: Plane
    button: Qt.MouseButton
    modifiers: Qt.KeyboardModifier


def _qcolor(rgb) -> QColor:
    """A QColor from (r, g, b) in 0-255, or floats in 0-1."""
    values = [float(c) for c in rgb]
    if all(isinstance(c, float | np.floating) for c in rgb) and max(values) <= 1.0:
        values = [c * 255.0 for c in values]
    return QColor(*(int(round(c)) for c in values))


class SliceView(QWidget):
    """Shows one plane of a :class:`Volume` with its overlays.

    Signals
    -------
    hovered(i, j, k)
        Voxel indices under the cursor.
    index_changed(index)
        The slice shown changed (wheel, :meth:`set_index`, :meth:`set_crosshair`).
    clicked(SliceClick)
        Left click in the image (both tools).
    crosshair_moved(point_lps_mm)
        The user placed the crosshair ((3,) LPS mm), navigate tool only.
    window_changed(WindowLevel)
        The user dragged window/level (right button).
    """

    hovered = Signal(int, int, int)
    index_changed = Signal(int)
    clicked = Signal(object)
    crosshair_moved = Signal(object)
    window_changed = Signal(object)

    def __init__(self, plane: Plane, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plane = plane
        self.volume: Volume | None = None
        self.window: WindowLevel | None = None
        self.image: PlaneImage | None = None
        self.index = 0
        self._tool = "navigate"
        self.zoom = 1.0
        self.crosshair_lps_mm: np.ndarray | None = None
        self._centre_px = np.zeros(2)  # image pixel shown at the widget centre
        self._grey: QImage | None = None
        self._overlay: QImage | None = None
        self._labels: tuple[np.ndarray, dict, float] | None = None
        self._outline_sources: dict[str, tuple[np.ndarray, np.ndarray, tuple]] = {}
        self._cutters: dict[str, MeshCutter] = {}
        self._outlines: list[tuple[QColor, list[np.ndarray]]] = []
        self._drag: tuple[str, QPointF, object] | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)

    @property
    def tool(self) -> str:
        """``"navigate"`` (left click places the crosshair) or ``"pick"`` (clicks only)."""
        return self._tool

    @tool.setter
    def tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}: choose one of {', '.join(TOOLS)}")
        self._tool = tool
        shape = Qt.CursorShape.CrossCursor if tool == "pick" else Qt.CursorShape.ArrowCursor
        self.setCursor(shape)

    # ---- content ------------------------------------------------------------------------
    def set_volume(self, volume: Volume, window: WindowLevel) -> None:
        """Show ``volume`` through ``window`` on its middle slice, fitted to the widget."""
        if self.volume is None or self.volume.shape != volume.shape:
            self._labels = None
        self.volume, self.window = volume, window
        self.crosshair_lps_mm = None
        self._cutters = {}
        self.image = extract_plane(volume, self.plane, 0)
        self.reset_view()
        self.set_index(plane_count(volume, self.plane) // 2)

    def set_window(self, window: WindowLevel) -> None:
        """Display values through ``window``."""
        self.window = window
        self._refresh()

    def set_index(self, index: int) -> None:
        """Show slice ``index`` (clipped to the volume); emits ``index_changed``."""
        if self.volume is None:
            return
        self.index = int(np.clip(index, 0, plane_count(self.volume, self.plane) - 1))
        self._refresh()
        self.index_changed.emit(self.index)

    def set_labels(self, labels_kji: np.ndarray | None, colours: dict[int, tuple[int, int, int]],
                   opacity: float = 0.4) -> None:
        """Colour a label map over the slice.

        Parameters
        ----------
        labels_kji : (slices, rows, columns) integer ndarray or None
            Labels on the volume grid, ``[k, j, i]``; ``None`` removes the overlay.
        colours : dict of int to (r, g, b)
            Colour (0-255) of each label value; labels without one are not drawn.
        opacity : float
            Alpha (0-1) of labelled pixels.
        """
        self._labels = None if labels_kji is None else (labels_kji, dict(colours), opacity)
        self._refresh()

    def set_outlines(self, meshes: dict[str, tuple[np.ndarray, np.ndarray, tuple]]) -> None:
        """Draw where surfaces cross the slice.

        Parameters
        ----------
        meshes : dict of name to (vertices_lps_mm, faces, rgb)
            ``(n, 3)`` vertices in LPS mm, ``(m, 3)`` triangles and the structure colour
            (0-255 ints, or 0-1 floats). Replaces the previous outlines.
        """
        previous = self._outline_sources
        self._outline_sources = dict(meshes)
        self._cutters = {name: cutter for name, cutter in self._cutters.items()
                         if name in meshes and meshes[name][0] is previous[name][0]
                         and meshes[name][1] is previous[name][1]}  # same mesh: keep its cuts
        self._refresh()

    def set_crosshair(self, point_lps_mm: np.ndarray | None) -> None:
        """Place the crosshair at an LPS point (mm) and show the slice through it."""
        if point_lps_mm is None or self.volume is None:
            self.crosshair_lps_mm = None
            self.update()
            return
        self.crosshair_lps_mm = np.asarray(point_lps_mm, dtype=float).reshape(3)
        self.set_index(slice_through(self.volume, self.plane, self.crosshair_lps_mm))

    def centre_on(self, point_lps_mm: np.ndarray) -> None:
        """Show the slice through an LPS point (mm) with the point at the widget centre."""
        if self.volume is None:
            return
        self._centre_px = np.array(crosshair_pixel(self.volume, self.plane, point_lps_mm))
        self.set_index(slice_through(self.volume, self.plane, point_lps_mm))

    def reset_view(self) -> None:
        """Fit the whole slice in the widget."""
        self.zoom = 1.0
        if self.image is not None:
            height, width = self.image.values.shape
            self._centre_px = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        self.update()

    def pixmap(self) -> QPixmap:
        """The windowed grey slice at one pixel per voxel (null before a volume is set)."""
        return QPixmap() if self._grey is None else QPixmap.fromImage(self._grey)

    def _refresh(self) -> None:
        if self.volume is None or self.window is None:
            return
        self.image = extract_plane(self.volume, self.plane, self.index)
        grey = to_display(self.image.values, self.window)
        height, width = grey.shape
        self._grey = QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
        self._overlay = None
        if self._labels is not None:
            labels, colours, opacity = self._labels
            rgba = label_overlay(labels, self.plane, self.index, colours, opacity)
            self._overlay = QImage(rgba.data, width, height, 4 * width,
                                   QImage.Format.Format_RGBA8888).copy()
        self._outlines = [(_qcolor(rgb), self._cutter(name).cut(self.index))
                          for name, (_, _, rgb) in self._outline_sources.items()]
        self.update()

    def _cutter(self, name: str) -> MeshCutter:
        if name not in self._cutters:
            vertices, faces, _ = self._outline_sources[name]
            self._cutters[name] = MeshCutter(vertices, faces, self.volume, self.plane)
        return self._cutters[name]

    # ---- widget <-> image pixels ----------------------------------------------------------
    def _scale(self) -> np.ndarray:
        """Widget pixels per image pixel, (horizontal, vertical)."""
        height, width = self.image.values.shape
        pixel_mm = np.asarray(self.image.pixel_mm)
        fit = min(self.width() / (width * pixel_mm[0]), self.height() / (height * pixel_mm[1]))
        return pixel_mm * fit * self.zoom

    def _origin(self) -> np.ndarray:
        """Widget position of image pixel centre (0, 0)."""
        return np.array([self.width() / 2.0, self.height() / 2.0]) - self._centre_px * self._scale()

    def pixel_to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of image pixel coordinates (pixel centres at integers)."""
        position = self._origin() + np.array([x, y]) * self._scale()
        return QPointF(float(position[0]), float(position[1]))

    def widget_to_pixel(self, point: QPointF | QPoint) -> tuple[float, float]:
        """Image pixel coordinates (centres at integers) under a widget position."""
        x, y = (np.array([point.x(), point.y()], dtype=float) - self._origin()) / self._scale()
        return float(x), float(y)

    def voxel_at(self, point: QPoint | QPointF) -> tuple[int, int, int] | None:
        """Voxel (i, j, k) under a widget position, or ``None`` outside the image."""
        if self.image is None or self.volume is None:
            return None
        x, y = (int(np.floor(v + 0.5)) for v in self.widget_to_pixel(point))
        height, width = self.image.values.shape
        if not (0 <= x < width and 0 <= y < height):
            return None
        return display_to_ijk(self.volume, self.image, x, y)

    def lps_at(self, point: QPoint | QPointF) -> np.ndarray | None:
        """The (3,) LPS point (mm) on the shown slice under a widget position, or ``None``."""
        if self.voxel_at(point) is None:
            return None
        return pixel_to_lps(self.volume, self.plane, self.index, *self.widget_to_pixel(point))

    # ---- painting -----------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._grey is not None:
            sx, sy = self._scale()
            ox, oy = self._origin()
            painter.setTransform(QTransform(sx, 0, 0, sy, ox - sx / 2, oy - sy / 2))
            painter.drawImage(0, 0, self._grey)
            if self._overlay is not None:
                painter.drawImage(0, 0, self._overlay)
            painter.setTransform(QTransform(sx, 0, 0, sy, ox, oy))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint_outlines(painter)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.resetTransform()
            self._paint_crosshair(painter)
            painter.setPen(QColor(200, 200, 200))
            count = plane_count(self.volume, self.plane)
            painter.drawText(6, 16, f"{self.plane.name.title()}  {self.index + 1}/{count}")
        painter.end()

    def _paint_outlines(self, painter: QPainter) -> None:
        for colour, loops in self._outlines:
            pen = QPen(colour, 1.5)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for loop in loops:
                painter.drawPolyline(QPolygonF([QPointF(x, y) for x, y in loop]))

    def _paint_crosshair(self, painter: QPainter) -> None:
        if self.crosshair_lps_mm is None:
            return
        centre = self.pixel_to_widget(*crosshair_pixel(self.volume, self.plane,
                                                        self.crosshair_lps_mm))
        gap = 8.0
        painter.setPen(QPen(CROSSHAIR_COLOUR, 1.0))
        x, y = centre.x(), centre.y()
        painter.drawLine(QPointF(0, y), QPointF(x - gap, y))
        painter.drawLine(QPointF(x + gap, y), QPointF(self.width(), y))
        painter.drawLine(QPointF(x, 0), QPointF(x, y - gap))
        painter.drawLine(QPointF(x, y + gap), QPointF(x, self.height()))

    # ---- interaction --------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta().y()
        if delta == 0 or self.image is None:
            return
        steps = delta // 120 or (1 if delta > 0 else -1)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_about(event.position(), ZOOM_STEP ** steps)
        else:
            self.set_index(self.index + steps)
        event.accept()

    def zoom_about(self, point: QPointF, factor: float) -> None:
        """Multiply the zoom by ``factor`` keeping the image point under ``point`` in place."""
        fixed = np.array(self.widget_to_pixel(point))
        self.zoom = float(np.clip(self.zoom * factor, 0.1, 50.0))
        offset = np.array([point.x() - self.width() / 2.0, point.y() - self.height() / 2.0])
        self._centre_px = fixed - offset / self._scale()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.image is None:
            return
        button, shift = event.button(), event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        position = event.position()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and shift):
            self._drag = ("pan", position, self._centre_px.copy())
        elif button == Qt.MouseButton.RightButton and self.window is not None:
            self._drag = ("window", position, self.window)
        elif button == Qt.MouseButton.LeftButton:
            self._left_press(event)
        event.accept()

    def _left_press(self, event: QMouseEvent) -> None:
        point = self.lps_at(event.position())
        if point is None:
            return
        voxel = self.voxel_at(event.position())
        self.clicked.emit(SliceClick(point, voxel, self.plane, event.button(), event.modifiers()))
        if self.tool == "navigate":
            self._drag = ("crosshair", event.position(), None)
            self._place_crosshair(point)

    def _place_crosshair(self, point: np.ndarray) -> None:
        self.crosshair_lps_mm = point
        self.update()
        self.crosshair_moved.emit(point)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        position = event.position()
        voxel = self.voxel_at(position)
        if voxel is not None:
            self.hovered.emit(*voxel)
        if self._drag is None:
            return
        mode, start, state = self._drag
        delta = np.array([position.x() - start.x(), position.y() - start.y()])
        if mode == "pan":
            self._centre_px = state - delta / self._scale()
            self.update()
        elif mode == "window":
            self._drag_window(state, delta)
        elif mode == "crosshair" and voxel is not None:
            self._place_crosshair(self.lps_at(position))

    def _drag_window(self, start: WindowLevel, delta: np.ndarray) -> None:
        """Right-drag: right widens the window (x2 per 100 px), down raises its centre."""
        width = max(1.0, start.width * 2.0 ** (delta[0] / 100.0))
        centre = start.center + delta[1] * start.width / 200.0
        self.set_window(WindowLevel("Custom", float(centre), float(width)))
        self.window_changed.emit(self.window)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._drag = None
        event.accept()
