"""The replay scrubber: Play/Pause, a slider over the run's samples, the time, and the events
marked under the slider where they happened.

The slider moves over sample indices, so every position is a recorded sample time (the pose
shown is the recorded one, exactly); Play advances one sample per tick of a timer running at
the recorded rate.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QVBoxLayout,
    QWidget,
)

from surgiplan.rehearsal.safety import RunEvent

EVENT_COLOURS = {"contact": QColor("#1e88e5"), "complication": QColor("#d32f2f"),
                 "deformation_peak": QColor("#ffa000")}
"""Marker colour per event kind."""
STRIP_HEIGHT_PX = 12


class EventStrip(QWidget):
    """Event markers drawn under a slider, each at its sample's slider position."""

    def __init__(self, slider: QSlider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = slider
        self.markers: list[tuple[int, str]] = []
        self.setFixedHeight(STRIP_HEIGHT_PX)

    def set_markers(self, markers: list[tuple[int, str]]) -> None:
        """Markers as (sample index, event kind)."""
        self.markers = list(markers)
        self.update()

    def marker_x(self, index: int) -> float:
        """Horizontal position (px) of sample ``index``: where the slider handle's centre is
        at that value."""
        option = QStyleOptionSlider()
        self.slider.initStyleOption(option)
        style = self.slider.style()
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                      QStyle.SubControl.SC_SliderHandle, self.slider)
        span = max(self.slider.width() - handle.width(), 1)
        position = QStyle.sliderPositionFromValue(self.slider.minimum(), self.slider.maximum(),
                                                  index, span)
        return self.slider.x() - self.x() + position + handle.width() / 2

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, kind in self.markers:
            colour = EVENT_COLOURS.get(kind, QColor("gray"))
            painter.setPen(QPen(colour.darker(140), 1))
            painter.setBrush(colour)
            x = self.marker_x(index)
            painter.drawRect(QRectF(x - 2.5, 1, 5, STRIP_HEIGHT_PX - 2))
        painter.end()


class Scrubber(QWidget):
    """Play/Pause, the sample slider, the time label and the event strip.

    Signals
    -------
    moved(int)
        The sample index shown changed (slider dragged, clicked event, Play).
    """

    moved = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.times_s = np.zeros(0)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_value)
        self.time_label = QLabel("")
        self.strip = EventStrip(self.slider, self)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.strip)

    @property
    def index(self) -> int:
        return int(self.slider.value())

    @property
    def time_s(self) -> float:
        """The recorded time of the sample shown (s)."""
        return float(self.times_s[self.index]) if len(self.times_s) else 0.0

    def set_run(self, times_s: np.ndarray, events: list[RunEvent]) -> None:
        """Scrub over samples at ``times_s`` (s); mark ``events`` at their samples."""
        self.pause()
        self.times_s = np.asarray(times_s, dtype=np.float64)
        steps = np.diff(self.times_s)
        self.timer.setInterval(max(1, round(1000.0 * float(np.median(steps)))) if len(steps)
                               else 1000)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.times_s) - 1, 0))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.strip.set_markers([(self.index_of(e.time_s), e.kind) for e in events])
        self._show_time()

    def index_of(self, time_s: float) -> int:
        """The sample at or just after ``time_s`` (events happen at sample times)."""
        i = int(np.searchsorted(self.times_s, time_s - 1e-12, side="left"))
        return min(i, max(len(self.times_s) - 1, 0))

    def go_to(self, index: int) -> None:
        """Show sample ``index`` (emits :attr:`moved` when it changes)."""
        self.slider.setValue(int(index))

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def _on_play(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if not playing:
            self.timer.stop()
            return
        if self.index >= self.slider.maximum():
            self.go_to(0)
        self.timer.start()

    def _tick(self) -> None:
        if self.index >= self.slider.maximum():
            self.pause()
            return
        self.go_to(self.index + 1)

    def _on_value(self, index: int) -> None:
        self._show_time()
        self.moved.emit(int(index))

    def _show_time(self) -> None:
        end = float(self.times_s[-1]) if len(self.times_s) else 0.0
        self.time_label.setText(f"{self.time_s:.2f} / {end:.2f} s")
