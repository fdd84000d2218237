"""The list of series found by a scan, their warnings, and the import button."""

from __future__ import annotations

from PySide6.QtCore import Signal
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

COLUMNS = ("#", "Modality", "Description", "Files", "Volume", "Shape", "Warnings")


class SeriesPanel(QWidget):
    """Shows a :class:`ScanResult`; emits ``import_requested(candidate)``."""

    import_requested = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result: ScanResult | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _index: self._request_import())
        self.details = QPlainTextEdit(readOnly=True)
        self.summary = QLabel("Open a DICOM folder (File > Open DICOM folder...)")
        self.summary.setWordWrap(True)
        self.import_button = QPushButton("Import selected series")
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self._request_import)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.table, self.details, self.import_button):
            layout.addWidget(widget)

    def show_result(self, result: ScanResult) -> None:
        self.result = result
        self.table.setRowCount(len(result.series))
        for row, series in enumerate(result.series):
            cells = (str(series.index), series.modality, series.description or "-",
                     str(series.files), "yes" if series.is_volume else "no",
                     " x ".join(str(v) for v in series.shape),
                     ", ".join(dict.fromkeys(w.code for w in series.warnings)) or "-")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        volumes = len(result.volumes())
        self.summary.setText(f"{len(result.series)} series ({volumes} importable), "
                             f"{len(result.skipped)} file(s) not used")
        self.details.setPlainText(self._skipped_text(result))
        if volumes:
            first = result.series.index(result.volumes()[0])
            self.table.selectRow(first)

    def selected(self) -> SeriesCandidate | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.result is None:
            return None
        return self.result.series[rows[0].row()]

    def _on_selection(self) -> None:
        series = self.selected()
        self.import_button.setEnabled(bool(series and series.is_volume))
        if series is None:
            return
        lines = [f"Series {series.index}: {series.description or 'no description'}"]
        if series.spacing_mm is not None:
            lines.append("spacing (column, row, slice) mm: "
                         + ", ".join(f"{v:.4g}" for v in series.spacing_mm))
        lines += [f"[{w.code}] {w.message}" for w in series.warnings]
        self.details.setPlainText("\n".join(lines))

    @staticmethod
    def _skipped_text(result: ScanResult) -> str:
        if not result.skipped:
            return ""
        return "Files not used:\n" + "\n".join(f"{s.path}: {s.reason}" for s in result.skipped)

    def _request_import(self) -> None:
        series = self.selected()
        if series is not None and series.is_volume:
            self.import_requested.emit(series)
