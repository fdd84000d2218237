"""The complications the plan check found: critical first, coloured by severity, clickable."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from surgiplan.risk.model import Complication, Severity
from surgiplan.ui.headers import own_header

COLUMNS = ("Severity", "Finding", "Value", "Limit", "Structures")
SEVERITY_COLOURS = {
    Severity.CRITICAL: QColor("#d32f2f"),  # red
    Severity.WARNING: QColor("#ffa000"),  # amber
    Severity.INFO: QColor("#1e88e5"),  # blue
}
NOT_CHECKED = "Plan not checked yet"
BUSY_TEXT = "Checking the plan..."


def ordered(found: Iterable[Complication]) -> list[Complication]:
    """Most severe first; the rules' order kept within one severity."""
    return sorted(found, key=lambda c: -int(c.severity))


def summary_text(found: list[Complication]) -> str:
    """``"2 critical, 1 warning"``, or ``"No complications"``."""
    counts = [(s, sum(c.severity is s for c in found)) for s in sorted(Severity, reverse=True)]
    parts = [f"{n} {s.label}{'s' if s is Severity.WARNING and n > 1 else ''}"
             for s, n in counts if n]
    return ", ".join(parts) or "No complications"


def number_text(value: float, unit: str) -> str:
    """A value with its unit, as the table shows it (``"2.1 mm"``, ``"0.12 strain"``)."""
    return f"{value:.3g} {unit}".strip()


class ComplicationsPanel(QWidget):
    """Lists :class:`Complication` objects; a click asks to show one.

    Signals
    -------
    selected(Complication)
        The user clicked (or pressed Enter on) a complication; the main window centres the
        views on its ``location_lps_mm`` when it has one.
    """

    selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.complications: list[Complication] = []
        self.busy = False
        self.checked = False
        self.summary = QLabel(NOT_CHECKED)
        self.summary.setWordWrap(True)
        self.table = self._make_table()
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)

    def _make_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(True)
        own_header(table, Qt.Orientation.Vertical).hide()
        header = own_header(table, Qt.Orientation.Horizontal)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Finding"), QHeaderView.ResizeMode.Stretch)
        table.clicked.connect(lambda index: self._emit_row(index.row()))
        table.activated.connect(lambda index: self._emit_row(index.row()))
        return table

    def set_busy(self, busy: bool = True) -> None:
        """Show that a check is running (the list is kept but greyed out)."""
        self.busy = busy
        self.table.setEnabled(not busy)
        self.summary.setText(BUSY_TEXT if busy else self._summary())

    def set_complications(self, found: Iterable[Complication]) -> None:
        """Show ``found`` (most severe first) and end the busy state."""
        self.complications = ordered(found)
        self.checked = True
        self.table.clearSelection()
        self.table.setRowCount(len(self.complications))
        for row, complication in enumerate(self.complications):
            self._fill_row(row, complication)
        self.table.resizeRowsToContents()
        self.set_busy(False)

    def clear(self) -> None:
        """Back to the state before any check (no list, "not checked")."""
        self.complications = []
        self.checked = False
        self.table.setRowCount(0)
        self.set_busy(False)

    def _summary(self) -> str:
        return summary_text(self.complications) if self.checked else NOT_CHECKED

    def _fill_row(self, row: int, complication: Complication) -> None:
        colour = SEVERITY_COLOURS[complication.severity]
        cells = (complication.severity.label, complication.message,
                 number_text(complication.value, complication.unit),
                 number_text(complication.threshold, complication.unit),
                 ", ".join(complication.structures) or "-")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(complication.message)
            if column == 0:
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor("white")))
            else:
                item.setForeground(QBrush(colour.darker(130)))
            self.table.setItem(row, column, item)

    def severity_colour(self, row: int) -> QColor:
        """The colour row ``row`` is marked with."""
        return self.table.item(row, 0).background().color()

    def _emit_row(self, row: int) -> None:
        if 0 <= row < len(self.complications):
            self.selected.emit(self.complications[row])
