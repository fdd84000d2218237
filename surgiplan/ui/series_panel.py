"""The series browser: per series a thumbnail, description, size, spacing, modality, warnings.

Thumbnails are decoded one series per event-loop turn after :meth:`SeriesPanel.show_result`, so
the list appears at once and fills in its pictures without freezing the window.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from surgiplan.imaging import ScanResult, SeriesCandidate
from surgiplan.render.thumbnails import THUMBNAIL_SIZE, series_thumbnail
from surgiplan.ui.headers import own_header

COLUMNS = ("#", "Modality", "Description", "Files", "Volume", "Size", "Warnings",
           "Spacing (mm)")
THUMBNAIL_COLUMN = 0


def dimensions_text(series: SeriesCandidate) -> str:
    """``columns x rows x slices`` of a series."""
    slices, rows, columns = series.shape
    return f"{columns} x {rows} x {slices}"


def spacing_text(series: SeriesCandidate) -> str:
    """Column, row and slice spacing in mm, or ``-`` when the files do not give it."""
    if series.spacing_mm is None:
        return "-"
    return " x ".join(f"{v:.3g}" for v in series.spacing_mm)


def grey_pixmap(grey: np.ndarray) -> QPixmap:
    """A pixmap of a (height, width) uint8 array."""
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    height, width = grey.shape
    image = QImage(grey.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


class SeriesPanel(QWidget):
    """Shows a :class:`ScanResult` as a series browser.

    Signals
    -------
    import_requested(SeriesCandidate)
        The user asked to import the selected series (button or double click).
    thumbnails_finished()
        Every series' thumbnail has been made (or found impossible to make).
    """

    import_requested = Signal(object)
    thumbnails_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: ScanResult | None = None
        self.thumbnails: dict[int, QPixmap] = {}
        self._pending: list[int] = []
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._next_thumbnail)
        self.table = self._make_table()
        self.details = QPlainTextEdit(readOnly=True)
        self.summary = QLabel("Open a DICOM folder (File > Open DICOM folder...)")
        self.summary.setWordWrap(True)
        self.import_button = QPushButton("Import selected series")
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self._request_import)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.table, self.details, self.import_button):
            layout.addWidget(widget)

    def _make_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        rows = own_header(table, Qt.Orientation.Vertical)
        rows.setDefaultSectionSize(THUMBNAIL_SIZE + 4)
        rows.hide()
        table.itemSelectionChanged.connect(self._on_selection)
        table.doubleClicked.connect(lambda _index: self._request_import())
        return table

    def show_result(self, result: ScanResult) -> None:
        """List the series of ``result`` and start making their thumbnails."""
        self.result = result
        self.thumbnails = {}
        self.table.setRowCount(len(result.series))
        for row, series in enumerate(result.series):
            self._fill_row(row, series)
        self.table.resizeColumnsToContents()
        volumes = len(result.volumes())
        self.summary.setText(f"{len(result.series)} series ({volumes} importable), "
                             f"{len(result.skipped)} file(s) not used")
        self.details.setPlainText(self._skipped_text(result))
        if volumes:
            self.table.selectRow(result.series.index(result.volumes()[0]))
        self._pending = list(range(len(result.series)))
        self._timer.start()

    def _fill_row(self, row: int, series: SeriesCandidate) -> None:
        cells = (str(series.index), series.modality, series.description or "-",
                 str(series.files), "yes" if series.is_volume else "no",
                 dimensions_text(series),
                 ", ".join(dict.fromkeys(w.code for w in series.warnings)) or "-",
                 spacing_text(series))
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == COLUMNS.index("Warnings") and series.warnings:
                item.setToolTip("\n".join(w.message for w in series.warnings))
            self.table.setItem(row, column, item)

    def selected(self) -> SeriesCandidate | None:
        """The series selected in the list, or ``None``."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.result is None:
            return None
        return self.result.series[rows[0].row()]

    @property
    def thumbnails_pending(self) -> bool:
        """Whether some thumbnails are still to be made."""
        return bool(self._pending)

    def _next_thumbnail(self) -> None:
        if self._pending and self.result is not None:
            row = self._pending.pop(0)
            grey = series_thumbnail(self.result.series[row])
            if grey is not None:
                pixmap = grey_pixmap(grey)
                self.thumbnails[row] = pixmap
                self.table.item(row, THUMBNAIL_COLUMN).setIcon(QIcon(pixmap))
        if self._pending:
            self._timer.start()
        else:
            self.table.resizeColumnToContents(THUMBNAIL_COLUMN)
            self.thumbnails_finished.emit()

    def _on_selection(self) -> None:
        series = self.selected()
        self.import_button.setEnabled(bool(series and series.is_volume))
        if series is not None:
            self.details.setPlainText(self._details_text(series))

    @staticmethod
    def _details_text(series: SeriesCandidate) -> str:
        lines = [f"Series {series.index}: {series.description or 'no description'}",
                 f"{series.modality}, {series.files} file(s), "
                 f"{'a volume' if series.is_volume else 'not a volume'}",
                 f"size (columns x rows x slices): {dimensions_text(series)}"]
        if series.spacing_mm is not None:
            lines.append("spacing (column, row, slice) mm: "
                         + ", ".join(f"{v:.4g}" for v in series.spacing_mm))
        lines += [f"[{w.code}] {w.message}" for w in series.warnings]
        return "\n".join(lines)

    @staticmethod
    def _skipped_text(result: ScanResult) -> str:
        if not result.skipped:
            return ""
        return "Files not used:\n" + "\n".join(f"{s.path}: {s.reason}" for s in result.skipped)

    def _request_import(self) -> None:
        series = self.selected()
        if series is not None and series.is_volume:
            self.import_requested.emit(series)
