"""The twin's structures as an editable table: name, colour, opacity, visibility, tissue, critical.

The table never changes the twin. An edit emits the change requested; the main window applies
it through an undoable command, then calls :meth:`StructuresPanel.refresh` (or ``set_twin``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QHeaderView,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from surgiplan.twin.tissues import load_tissues
from surgiplan.twin.twin import DisplaySettings, PatientTwin
from surgiplan.ui.headers import own_header

COLUMNS = ("Name", "Colour", "Opacity", "Visible", "Volume (mL)", "Tissue", "Critical")
NAME, COLOUR, OPACITY, VISIBLE, VOLUME, TISSUE, CRITICAL = range(len(COLUMNS))
Index = QModelIndex | QPersistentModelIndex
OPACITY_STEP = 0.05


def _checked(value: Any) -> bool:
    """Whether a check-state value (enum or int, as delegates pass it) means checked."""
    return int(getattr(value, "value", value)) == Qt.CheckState.Checked.value


def _check_state(flag: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if flag else Qt.CheckState.Unchecked


def to_qcolor(colour: tuple[float, float, float]) -> QColor:
    """A QColor of an (r, g, b) colour in 0..1."""
    return QColor.fromRgbF(*(min(1.0, max(0.0, float(c))) for c in colour))


def from_qcolor(colour: QColor) -> tuple[float, float, float]:
    """(r, g, b) in 0..1 of a QColor."""
    return (colour.redF(), colour.greenF(), colour.blueF())


class StructuresModel(QAbstractTableModel):
    """One row per twin structure; edits become requests (signals), never twin changes."""

    display_change_requested = Signal(str, object)
    structure_change_requested = Signal(str, dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.twin: PatientTwin | None = None
        self.names: list[str] = []

    def set_twin(self, twin: PatientTwin | None) -> None:
        """Show the structures of ``twin`` (all rows rebuilt)."""
        self.beginResetModel()
        self.twin = twin
        self.names = list(twin.structures) if twin is not None else []
        self.endResetModel()

    def refresh_row(self, name: str) -> bool:
        """Update the row of ``name``; ``False`` when the twin's structures changed (reset)."""
        if self.twin is None or self.names != list(self.twin.structures):
            return False
        if name in self.names:
            row = self.names.index(name)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def display(self, name: str) -> DisplaySettings:
        """The display settings of ``name`` (its label colour when it has none yet)."""
        settings = self.twin.display.get(name)
        if settings is None:
            settings = DisplaySettings(colour=self.twin.structures[name].info.colour)
        return settings

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in (NAME, OPACITY, TISSUE):
            flags |= Qt.ItemFlag.ItemIsEditable
        elif index.column() in (VISIBLE, CRITICAL):
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.twin is None:
            return None
        name = self.names[index.row()]
        structure, settings = self.twin.structures[name], self.display(name)
        column = index.column()
        if role == Qt.ItemDataRole.CheckStateRole:
            flag = {VISIBLE: settings.visible, CRITICAL: structure.info.critical}.get(column)
            return None if flag is None else _check_state(flag)
        if column == COLOUR and role in (Qt.ItemDataRole.BackgroundRole,
                                         Qt.ItemDataRole.EditRole):
            return to_qcolor(settings.colour)
        if column == COLOUR and role == Qt.ItemDataRole.ToolTipRole:
            return f"{to_qcolor(settings.colour).name()} (click to change)"
        if column == VOLUME and role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.EditRole:
            return {NAME: name, OPACITY: settings.opacity, TISSUE: structure.info.tissue,
                    VOLUME: structure.properties.volume_ml}.get(column)
        if role == Qt.ItemDataRole.DisplayRole:
            return {NAME: name, OPACITY: f"{settings.opacity:.2f}", TISSUE: structure.info.tissue,
                    VOLUME: f"{structure.properties.volume_ml:.1f}"}.get(column)
        return None

    def setData(self, index: Index, value: Any,  # noqa: N802 - Qt API
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or self.twin is None:
            return False
        name = self.names[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column in (VISIBLE, CRITICAL):
            return self._request_flag(name, column, _checked(value))
        if role != Qt.ItemDataRole.EditRole:
            return False
        if column in (COLOUR, OPACITY):
            return self._request_display(name, column, value)
        if column == NAME:
            return self._request_rename(name, str(value).strip())
        if column == TISSUE:
            return self._request_structure(name, "tissue", str(value),
                                           self.twin.structures[name].info.tissue)
        return False

    def _request_flag(self, name: str, column: int, flag: bool) -> bool:
        if column == CRITICAL:
            return self._request_structure(name, "critical", flag,
                                           self.twin.structures[name].info.critical)
        settings = self.display(name)
        if flag == settings.visible:
            return False
        self.display_change_requested.emit(name, replace(settings, visible=flag))
        return True

    def _request_display(self, name: str, column: int, value: Any) -> bool:
        settings = self.display(name)
        if column == COLOUR:
            colour = QColor(value)
            if not colour.isValid():
                return False
            new = replace(settings, colour=from_qcolor(colour))
        else:
            new = replace(settings, opacity=min(1.0, max(0.0, float(value))))
        if new == settings:
            return False
        self.display_change_requested.emit(name, new)
        return True

    def _request_rename(self, name: str, new_name: str) -> bool:
        """Ask for any other name: the session refuses bad ones (empty, taken, unsafe
        characters) and says why, so the user is not left wondering why nothing happened."""
        if new_name == name:
            return False
        self.structure_change_requested.emit(name, {"name": new_name})
        return True

    def _request_structure(self, name: str, key: str, value: Any, current: Any) -> bool:
        if value == current:
            return False
        self.structure_change_requested.emit(name, {key: value})
        return True


class StructuresDelegate(QStyledItemDelegate):
    """A 0..1 spin box for opacity and a combo of the tissue table for the tissue."""

    def __init__(self, tissues: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tissues = tissues

    def createEditor(self, parent: QWidget, option, index: Index) -> QWidget:  # noqa: N802
        if index.column() == OPACITY:
            spin = QDoubleSpinBox(parent)
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(OPACITY_STEP)
            spin.setDecimals(2)
            return spin
        if index.column() == TISSUE:
            combo = QComboBox(parent)
            current = index.data(Qt.ItemDataRole.EditRole)
            combo.addItems(self.tissues + ([current] if current not in self.tissues else []))
            combo.activated.connect(lambda _n, c=combo: self._commit(c))
            return combo
        return super().createEditor(parent, option, index)

    def _commit(self, editor: QWidget) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor)

    def setEditorData(self, editor: QWidget, index: Index) -> None:  # noqa: N802 - Qt API
        value = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model, index: Index) -> None:  # noqa: N802
        if isinstance(editor, QDoubleSpinBox):
            model.setData(index, editor.value())
        elif isinstance(editor, QComboBox):
            model.setData(index, editor.currentText())
        else:
            super().setModelData(editor, model, index)


class StructuresPanel(QWidget):
    """The structures of a :class:`PatientTwin`, editable; the twin itself is never changed.

    Signals
    -------
    display_change_requested(str, DisplaySettings)
        New colour, opacity or visibility asked for structure ``name``.
    structure_change_requested(str, dict)
        Structure data changes asked for ``name``: ``{"tissue": str}``,
        ``{"critical": bool}`` or ``{"name": new_name}`` (a rename).
    selected(str)
        The user made ``name`` the current structure.
    """

    display_change_requested = Signal(str, object)
    structure_change_requested = Signal(str, dict)
    selected = Signal(str)

    def __init__(self, parent: QWidget | None = None, *,
                 tissues: list[str] | None = None) -> None:
        super().__init__(parent)
        self.tissues = list(tissues) if tissues is not None else list(load_tissues())
        self.colour_dialog: QColorDialog | None = None
        self._quiet = False
        self.model = StructuresModel(self)
        self.model.display_change_requested.connect(self.display_change_requested)
        self.model.structure_change_requested.connect(self.structure_change_requested)
        self.view = self._make_view()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def _make_view(self) -> QTableView:
        view = QTableView()
        view.setModel(self.model)
        view.setItemDelegate(StructuresDelegate(self.tissues, view))
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.SelectedClicked)
        own_header(view, Qt.Orientation.Vertical).hide()
        own_header(view, Qt.Orientation.Horizontal).setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        view.clicked.connect(self._on_clicked)
        view.selectionModel().currentRowChanged.connect(self._on_current_row)
        return view

    def set_twin(self, twin: PatientTwin | None) -> None:
        """Show ``twin``'s structures, keeping the current structure selected."""
        self._reset(twin, self.current_name())

    def refresh(self, name: str) -> None:
        """Update ``name``'s row after a change was applied (rebuilds after a rename)."""
        if not self.model.refresh_row(name):
            current = self.current_name()
            twin = self.model.twin
            keep = current if twin is not None and current in twin.structures else name
            self._reset(twin, keep)

    def _reset(self, twin: PatientTwin | None, keep: str | None) -> None:
        self._quiet = True
        try:
            self.model.set_twin(twin)
            if keep in self.model.names:
                self.select(keep)
        finally:
            self._quiet = False

    def select(self, name: str) -> None:
        """Make ``name`` the current structure (emits ``selected`` unless quiet)."""
        row = self.model.names.index(name)
        self.view.selectionModel().setCurrentIndex(
            self.model.index(row, NAME),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)

    def current_name(self) -> str | None:
        """The current structure's name, or ``None``."""
        index = self.view.selectionModel().currentIndex()
        return self.model.names[index.row()] if index.isValid() else None

    def choose_colour(self, name: str) -> QColorDialog:
        """Open a colour dialog for ``name`` (non-blocking); choosing requests the colour."""
        row = self.model.names.index(name)
        index = QPersistentModelIndex(self.model.index(row, COLOUR))
        dialog = QColorDialog(self.model.data(index, Qt.ItemDataRole.EditRole), self)
        dialog.setWindowTitle(f"Colour of {name}")
        dialog.setOption(QColorDialog.ColorDialogOption.DontUseNativeDialog)
        dialog.colorSelected.connect(
            lambda colour: index.isValid() and self.model.setData(index, colour))
        dialog.finished.connect(dialog.deleteLater)
        self.colour_dialog = dialog
        dialog.open()
        return dialog

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.column() == COLOUR:
            self.choose_colour(self.model.names[index.row()])

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._quiet:
            self.selected.emit(self.model.names[current.row()])
