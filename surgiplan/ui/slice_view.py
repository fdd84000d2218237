"""One orthogonal slice of the volume with window/level, wheel scrolling and a cursor readout."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap, QWheelEvent
from PySide6.QtWidgets import QLabel, QSizePolicy

from surgiplan.imaging import Volume
from surgiplan.render.slices import (
    Plane,
    PlaneImage,
    WindowLevel,
    display_to_ijk,
    extract_plane,
    plane_count,
    to_display,
)


class SliceView(QLabel):
    """Shows one plane of a :class:`Volume`; emits the voxel under the mouse.

    Signals
    -------
    hovered(i, j, k)
        Voxel indices under the cursor.
    index_changed(index)
        The slice shown changed (wheel or :meth:`set_index`).
    """

    hovered = Signal(int, int, int)
    index_changed = Signal(int)

    def __init__(self, plane: Plane, parent=None) -> None:
        super().__init__(parent)
        self.plane = plane
        self.volume: Volume | None = None
        self.window: WindowLevel | None = None
        self.image: PlaneImage | None = None
        self.index = 0
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMouseTracking(True)
        self.setStyleSheet("background-color: black;")

    def set_volume(self, volume: Volume, window: WindowLevel) -> None:
        self.volume, self.window = volume, window
        self.set_index(plane_count(volume, self.plane) // 2)

    def set_window(self, window: WindowLevel) -> None:
        self.window = window
        self._refresh()

    def set_index(self, index: int) -> None:
        if self.volume is None:
            return
        self.index = int(np.clip(index, 0, plane_count(self.volume, self.plane) - 1))
        self._refresh()
        self.index_changed.emit(self.index)

    def _refresh(self) -> None:
        if self.volume is None or self.window is None:
            return
        self.image = extract_plane(self.volume, self.plane, self.index)
        grey = to_display(self.image.values, self.window)
        height, width = grey.shape
        qimage = QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
        self._pixmap = QPixmap.fromImage(qimage)
        self._rescale()

    def _display_size(self) -> tuple[int, int]:
        height, width = self.image.values.shape
        physical_w = width * self.image.pixel_mm[0]
        physical_h = height * self.image.pixel_mm[1]
        scale = min(self.width() / physical_w, self.height() / physical_h)
        return max(1, int(physical_w * scale)), max(1, int(physical_h * scale))

    def _rescale(self) -> None:
        if self.image is None:
            return
        w, h = self._display_size()
        self.setPixmap(self._pixmap.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._rescale()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() // 120 or (1 if event.angleDelta().y() > 0 else -1)
        self.set_index(self.index + steps)

    def voxel_at(self, point: QPoint) -> tuple[int, int, int] | None:
        """Voxel (i, j, k) under a widget position, or ``None`` outside the image."""
        if self.image is None or self.volume is None:
            return None
        w, h = self._display_size()
        left, top = (self.width() - w) / 2, (self.height() - h) / 2
        height, width = self.image.values.shape
        x = int((point.x() - left) / w * width)
        y = int((point.y() - top) / h * height)
        if not (0 <= x < width and 0 <= y < height):
            return None
        return display_to_ijk(self.volume, self.image, x, y)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        voxel = self.voxel_at(event.position().toPoint())
        if voxel is not None:
            self.hovered.emit(*voxel)
        super().mouseMoveEvent(event)
