"""The instrument catalogue by category, the plan's items, and nudges of a placed instrument.

Every button emits a request; the main window turns it into an undoable plan command and then
calls :meth:`InstrumentsPanel.set_plan` with the changed plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from surgiplan.plan.catalogue import CATEGORIES, Catalogue, Instrument
from surgiplan.plan.model import (
    COLLECTIONS,
    Incision,
    InstrumentPlacement,
    Landmark,
    Measurement,
    Plan,
)

CATEGORY_TITLES = {"needle": "Needles", "blade": "Scalpels", "probe": "Probes",
                   "trocar": "Trocars", "grasper": "Graspers", "retractor": "Retractors",
                   "drill": "Drills"}
COLLECTION_TITLES = {"instruments": "Instruments", "incisions": "Incisions",
                     "measurements": "Measurements", "landmarks": "Landmarks"}
CATALOGUE_COLUMNS = ("Instrument", "Ø / width (mm)", "Length (mm)", "Tip")
PLAN_COLUMNS = ("Item", "Details")
ADVANCE_STEP_MM = 1.0
TILT_STEP_DEG = 2.0
# (button text, kind, amount): "advance" moves the tip along the shaft axis by amount mm
# (negative retracts); "tilt" turns the shaft by amount degrees.
NUDGES = (("Advance 1 mm", "advance", ADVANCE_STEP_MM),
          ("Retract 1 mm", "advance", -ADVANCE_STEP_MM),
          ("Tilt +2°", "tilt", TILT_STEP_DEG), ("Tilt -2°", "tilt", -TILT_STEP_DEG))
ID_ROLE = Qt.ItemDataRole.UserRole
COLLECTION_ROLE = Qt.ItemDataRole.UserRole + 1


def dimension_cells(instrument: Instrument) -> tuple[str, str, str, str]:
    """Name, diameter (or blade width), working length and tip of a catalogue row."""
    return (instrument.name, f"{2.0 * instrument.shaft_radius_mm:.3g}",
            f"{instrument.working_length_mm:.0f}", instrument.tip.type)


def item_details(item: object, catalogue: Catalogue | None) -> str:
    """One line on a plan item in a surgeon's words."""
    if isinstance(item, InstrumentPlacement):
        name = catalogue[item.instrument].name if catalogue and item.instrument in catalogue \
            else item.instrument
        port = ", pivots at its port" if item.pivot_lps_mm is not None else ""
        return f"{name}, {item.insertion_depth_mm:.0f} mm inserted{port}"
    if isinstance(item, Incision):
        return f"on {item.structure}, {len(item.points_lps_mm)} points, {item.depth_mm:g} mm deep"
    if isinstance(item, Measurement):
        return {"point_point": "distance between two points",
                "point_structure": f"distance to {''.join(item.structures[:1])}",
                "structure_structure": " to ".join(item.structures),
                "angle": "angle at the middle point"}[item.kind]
    if isinstance(item, Landmark):
        return item.label or "landmark"
    return ""


class InstrumentsPanel(QWidget):
    """Catalogue, plan items and nudges.

    Signals
    -------
    place_requested(str)
        Place the catalogue instrument with this id.
    item_selected(str, str)
        The user chose plan item (collection, item_id), e.g. ("instruments", "needle-1").
    delete_requested(str, str)
        Remove plan item (collection, item_id).
    nudge_requested(str, str, float)
        Move placement item_id: kind ``"advance"`` by amount mm along its axis (negative
        retracts) or ``"tilt"`` by amount degrees.
    """

    place_requested = Signal(str)
    item_selected = Signal(str, str)
    delete_requested = Signal(str, str)
    nudge_requested = Signal(str, str, float)

    def __init__(self, parent: QWidget | None = None, *,
                 catalogue: Catalogue | None = None) -> None:
        super().__init__(parent)
        self.catalogue: Catalogue | None = None
        self.plan: Plan | None = None
        self._quiet = False
        self.catalogue_tree = self._tree(CATALOGUE_COLUMNS)
        self.catalogue_tree.currentItemChanged.connect(self._on_catalogue_current)
        self.catalogue_tree.itemDoubleClicked.connect(lambda _item, _col: self._request_place())
        self.place_button = QPushButton("Place")
        self.place_button.clicked.connect(self._request_place)
        self.plan_tree = self._tree(PLAN_COLUMNS)
        self.plan_tree.currentItemChanged.connect(self._on_plan_current)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._request_delete)
        self.plan_tree.installEventFilter(self)  # Delete / Backspace on the plan list
        self.nudge_buttons = self._nudge_buttons()
        self._layout()
        self.set_catalogue(catalogue)
        self.set_plan(None)

    @staticmethod
    def _tree(columns: tuple[str, ...]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(list(columns))
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setRootIsDecorated(True)
        return tree

    def _nudge_buttons(self) -> list[QPushButton]:
        buttons = []
        for text, kind, amount in NUDGES:
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, k=kind, a=amount: self._request_nudge(k, a))
            buttons.append(button)
        return buttons

    def _layout(self) -> None:
        nudges = QGridLayout()
        for n, button in enumerate(self.nudge_buttons):
            nudges.addWidget(button, n // 2, n % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Catalogue"))
        layout.addWidget(self.catalogue_tree)
        layout.addWidget(self.place_button)
        layout.addWidget(QLabel("Plan"))
        layout.addWidget(self.plan_tree)
        layout.addLayout(nudges)
        layout.addWidget(self.delete_button)

    # ---- catalogue ----------------------------------------------------------------------
    def set_catalogue(self, catalogue: Catalogue | None) -> None:
        """Show ``catalogue``'s instruments grouped by category."""
        self.catalogue = catalogue
        self.catalogue_tree.clear()
        instruments = list(catalogue.instruments.values()) if catalogue else []
        for category in CATEGORIES:
            members = [i for i in instruments if i.category == category]
            if not members:
                continue
            group = QTreeWidgetItem(self.catalogue_tree, [CATEGORY_TITLES.get(category, category)])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for instrument in members:
                row = QTreeWidgetItem(group, list(dimension_cells(instrument)))
                row.setData(0, ID_ROLE, instrument.id)
                row.setToolTip(0, instrument.notes or instrument.name)
        self.catalogue_tree.expandAll()
        for column in range(len(CATALOGUE_COLUMNS)):
            self.catalogue_tree.resizeColumnToContents(column)
        self.place_button.setEnabled(False)

    def selected_instrument(self) -> str | None:
        """The catalogue id chosen in the catalogue, or ``None``."""
        item = self.catalogue_tree.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def _on_catalogue_current(self, _current, _previous) -> None:
        self.place_button.setEnabled(self.selected_instrument() is not None)

    def _request_place(self) -> None:
        instrument_id = self.selected_instrument()
        if instrument_id is not None:
            self.place_requested.emit(instrument_id)

    # ---- plan ---------------------------------------------------------------------------
    def set_plan(self, plan: Plan | None, notes: Mapping[str, str] | None = None) -> None:
        """List ``plan``'s items by collection, keeping the current item selected.

        ``notes`` adds text to items by id (e.g. a measurement's value from the core).
        """
        current = self.selected_item()
        self.plan = plan
        self._quiet = True
        try:
            self.plan_tree.clear()
            for collection in COLLECTIONS:
                self._add_collection(collection, notes or {})
            self.plan_tree.expandAll()
            self.plan_tree.resizeColumnToContents(0)
            if current is not None:
                self.select_item(*current)
        finally:
            self._quiet = False
        self._update_buttons()

    def _add_collection(self, collection: str, notes: Mapping[str, str]) -> None:
        items = self.plan.collection(collection) if self.plan is not None else {}
        if not items:
            return
        group = QTreeWidgetItem(self.plan_tree, [COLLECTION_TITLES[collection]])
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        for item_id, item in items.items():
            details = item_details(item, self.catalogue)
            if item_id in notes:
                details = f"{details}: {notes[item_id]}"
            row = QTreeWidgetItem(group, [item_id, details])
            row.setData(0, ID_ROLE, item_id)
            row.setData(0, COLLECTION_ROLE, collection)

    def _rows(self) -> list[QTreeWidgetItem]:
        root = self.plan_tree.invisibleRootItem()
        return [root.child(g).child(n) for g in range(root.childCount())
                for n in range(root.child(g).childCount())]

    def select_item(self, collection: str, item_id: str) -> bool:
        """Make plan item (collection, item_id) current; ``False`` when it is not listed."""
        for row in self._rows():
            if (row.data(0, COLLECTION_ROLE), row.data(0, ID_ROLE)) == (collection, item_id):
                self.plan_tree.setCurrentItem(row)
                return True
        return False

    def selected_item(self) -> tuple[str, str] | None:
        """(collection, item_id) of the current plan item, or ``None``."""
        item = self.plan_tree.currentItem()
        if item is None or item.data(0, ID_ROLE) is None:
            return None
        return item.data(0, COLLECTION_ROLE), item.data(0, ID_ROLE)

    def _on_plan_current(self, _current, _previous) -> None:
        self._update_buttons()
        chosen = self.selected_item()
        if chosen is not None and not self._quiet:
            self.item_selected.emit(*chosen)

    def _update_buttons(self) -> None:
        chosen = self.selected_item()
        self.delete_button.setEnabled(chosen is not None)
        for button in self.nudge_buttons:
            button.setEnabled(chosen is not None and chosen[0] == "instruments")

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if (watched is self.plan_tree and event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)):
            self._request_delete()
            return True
        return super().eventFilter(watched, event)

    def _request_delete(self) -> None:
        chosen = self.selected_item()
        if chosen is not None:
            self.delete_requested.emit(*chosen)

    def _request_nudge(self, kind: str, amount: float) -> None:
        chosen = self.selected_item()
        if chosen is not None and chosen[0] == "instruments":
            self.nudge_requested.emit(chosen[1], kind, amount)
