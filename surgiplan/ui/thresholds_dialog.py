"""The complication-threshold editor: the plan's overrides of the shipped rule table.

Every rule is listed with a check box (on/off), its thresholds with the value the plan uses
beside the table's value and unit, and its literature sources underneath. A value changed
from the table is shown in bold. "Add for structure" gives the selected rule a per-structure
entry for a twin structure (a surgeon accepting 2 mm from one vessel). OK stores the smallest
overrides that differ from the table as one undoable edit; the live check then runs again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from surgiplan.errors import SurgiPlanError
from surgiplan.plan.threshold_table import (
    DEFAULTS,
    RuleRows,
    ThresholdRow,
    overrides_from_rules,
    threshold_rules,
)

SECTION_LABELS = {DEFAULTS: "", "per_structure": "structure", "per_tissue": "tissue",
                  "per_condition": "condition"}


def row_label(row: ThresholdRow) -> str:
    """``warning_mm`` or ``warning_mm (structure portal_vein)``."""
    if row.name is None:
        return row.key
    return f"{row.key} ({SECTION_LABELS[row.section]} {row.name})"


class ThresholdsDialog(QDialog):
    """Edit a plan's threshold overrides.

    Parameters
    ----------
    overrides : dict
        The plan's current overrides (:attr:`Plan.thresholds`).
    structures : list of str
        Twin structure names offered for per-structure entries.
    """

    def __init__(self, overrides: dict, structures: list[str], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Complication thresholds")
        self.resize(760, 560)
        self.rules: dict[str, RuleRows] = {r.rule_id: r for r in threshold_rules(overrides)}
        self.spins: dict[tuple[str, str, str | None, str], QDoubleSpinBox] = {}
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Rule / threshold", "Plan value", "Table value", "Unit"])
        self.tree.setColumnWidth(0, 300)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(lambda *_: self._show_sources())
        self.sources = QLabel("")
        self.sources.setWordWrap(True)
        self.sources.setOpenExternalLinks(True)
        self.sources.setTextFormat(Qt.TextFormat.RichText)
        self.structure_combo = QComboBox()
        self.structure_combo.addItems(structures)
        self.add_button = QPushButton("Add for structure")
        self.add_button.clicked.connect(self.add_structure_entry)
        self.reset_button = QPushButton("Reset to table")
        self.reset_button.clicked.connect(self.reset)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self._fill()

    def _layout(self) -> None:
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Per-structure entry for the selected rule:"))
        tools.addWidget(self.structure_combo, 1)
        tools.addWidget(self.add_button)
        tools.addStretch()
        tools.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(tools)
        layout.addWidget(self.sources)
        layout.addWidget(self.buttons)

    # ---- filling --------------------------------------------------------------------------
    def _fill(self) -> None:
        current = self.selected_rule()
        self.tree.blockSignals(True)
        self.tree.clear()
        self.spins.clear()
        for rule in self.rules.values():
            top = QTreeWidgetItem([rule.rule_id.replace("_", " "), "", "", ""])
            top.setData(0, Qt.ItemDataRole.UserRole, rule.rule_id)
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            top.setCheckState(0, Qt.CheckState.Checked if rule.enabled
                              else Qt.CheckState.Unchecked)
            top.setToolTip(0, "\n".join(c.text for c in rule.citations))
            self.tree.addTopLevelItem(top)
            for row in rule.rows:
                self._add_row(top, rule.rule_id, row)
            top.setExpanded(True)
            if rule.rule_id == current:
                self.tree.setCurrentItem(top)
        self.tree.blockSignals(False)
        self._show_sources()

    def _add_row(self, parent: QTreeWidgetItem, rule_id: str, row: ThresholdRow) -> None:
        table = "-" if row.table_value is None else f"{row.table_value:g}"
        item = QTreeWidgetItem([row_label(row), "", table, row.unit])
        item.setData(0, Qt.ItemDataRole.UserRole, rule_id)
        parent.addChild(item)
        spin = QDoubleSpinBox()
        spin.setDecimals(3)
        spin.setRange(0.0, 100_000.0)
        spin.setValue(row.value)
        spin.setSuffix(f" {row.unit}" if row.unit else "")
        key = (rule_id, row.section, row.name, row.key)
        spin.valueChanged.connect(lambda value, key=key: self.set_value(*key, value))
        self.tree.setItemWidget(item, 1, spin)
        self.spins[key] = spin
        self._mark(item, row)

    @staticmethod
    def _mark(item: QTreeWidgetItem, row: ThresholdRow) -> None:
        font = QFont(item.font(0))
        font.setBold(row.changed)
        item.setFont(0, font)

    def _show_sources(self) -> None:
        rule = self.rules.get(self.selected_rule() or "")
        if rule is None:
            self.sources.setText("Select a rule to see the sources of its thresholds.")
            return
        lines = [f"<b>Sources of {rule.rule_id.replace('_', ' ')}</b>"]
        for c in rule.citations:
            link = f' <a href="{c.url}">{c.url}</a>' if c.url else ""
            lines.append(f"[{c.confidence}] {c.text}{link}")
        self.sources.setText("<br>".join(lines))

    # ---- edits ----------------------------------------------------------------------------
    def selected_rule(self) -> str | None:
        """The rule id of the current tree item (a rule or one of its thresholds)."""
        item = self.tree.currentItem() if hasattr(self, "tree") else None
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def select_rule(self, rule_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == rule_id:
                self.tree.setCurrentItem(item)

    def set_value(self, rule_id: str, section: str, name: str | None, key: str,
                  value: float) -> None:
        """Set one threshold the plan uses (the spin box shows it)."""
        self.rules[rule_id] = self.rules[rule_id].with_value(section, name, key, value)
        spin = self.spins[(rule_id, section, name, key)]
        if spin.value() != value:
            spin.setValue(value)
        row = next(r for r in self.rules[rule_id].rows
                   if (r.section, r.name, r.key) == (section, name, key))
        for item in self.tree.findItems(row_label(row), Qt.MatchFlag.MatchExactly
                                        | Qt.MatchFlag.MatchRecursive, 0):
            if item.data(0, Qt.ItemDataRole.UserRole) == rule_id:
                self._mark(item, row)

    def set_enabled(self, rule_id: str, enabled: bool) -> None:
        """Switch a rule on or off."""
        self.rules[rule_id] = self.rules[rule_id].with_enabled(enabled)
        self._fill()

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0 and item.parent() is None:
            rule_id = item.data(0, Qt.ItemDataRole.UserRole)
            enabled = item.checkState(0) == Qt.CheckState.Checked
            if self.rules[rule_id].enabled != enabled:
                self.rules[rule_id] = self.rules[rule_id].with_enabled(enabled)

    def add_structure_entry(self) -> None:
        """Give the selected rule a per-structure entry for the chosen structure."""
        rule_id, name = self.selected_rule(), self.structure_combo.currentText()
        if rule_id is None or not name:
            self.sources.setText("Select a rule and a structure first.")
            return
        self.rules[rule_id] = self.rules[rule_id].with_entry("per_structure", name)
        self._fill()

    def reset(self) -> None:
        """Every rule back to the shipped table."""
        self.rules = {r.rule_id: r for r in threshold_rules({})}
        self._fill()

    def overrides(self) -> dict:
        """The overrides the edited rows make (only what differs from the table)."""
        return overrides_from_rules(list(self.rules.values()))


def edit_thresholds(window) -> ThresholdsDialog | None:
    """Open the editor on the window's case; OK stores the overrides (one undo step).

    Returns the (non-blocking) dialog, or ``None`` without a case.
    """
    session = window.session
    if session is None:
        window.show_error("open or build a case first: thresholds belong to a case's plan")
        return None
    dialog = ThresholdsDialog(session.case.plan.thresholds,
                              sorted(session.case.twin.structures), window)

    def apply() -> None:
        try:
            session.set_thresholds(dialog.overrides())
        except SurgiPlanError as exc:
            window.show_error(str(exc))

    dialog.accepted.connect(apply)
    window.thresholds_dialog = dialog
    dialog.open()
    return dialog
