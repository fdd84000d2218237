"""Table headers created and held from Python.

Asking a table for its own header (``verticalHeader()``) makes PySide look the C++ object up
by address; after an OpenGL helper object was freed at that address, the lookup can return a
stale wrapper of the wrong type (seen once in the test run: a ``QOffscreenSurface`` in place of
a ``QHeaderView``). Creating the header here gives it a fresh Python wrapper.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableView


def own_header(table: QTableView, orientation: Qt.Orientation) -> QHeaderView:
    """Give ``table`` a new header for ``orientation`` (labels and sections kept) and return it.
    """
    header = QHeaderView(orientation, table)
    header.setSectionsClickable(orientation == Qt.Orientation.Horizontal)
    if orientation == Qt.Orientation.Horizontal:
        header.setStretchLastSection(True)
        table.setHorizontalHeader(header)
    else:
        table.setVerticalHeader(header)
    return header
