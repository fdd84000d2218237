"""The threshold editor on the sample case: a relaxed margin clears needle-2's warning, a
per-structure entry brings it back, undo restores the table, and the file keeps the edit."""

from __future__ import annotations

from PySide6.QtCore import Qt

from surgiplan.case.case_file import load_case
from surgiplan.ui.thresholds_dialog import edit_thresholds

LONG_MS = 180_000


def _wait_checked(qtbot, window):
    qtbot.waitUntil(lambda: not window.live.runner.is_busy and window.live.result is not None,
                    timeout=LONG_MS)
    qtbot.wait(50)
    qtbot.waitUntil(lambda: not window.live.runner.is_busy, timeout=LONG_MS)


def _margins(window):
    return [c for c in window.live.result.complications if c.rule == "safety_margin"]


def test_relaxing_the_margin_clears_the_warning_and_undo_restores_it(qtbot, sample_window,
                                                                     tmp_path):
    window = sample_window
    _wait_checked(qtbot, window)
    before = _margins(window)
    assert [c.item_id for c in before] == ["needle-2"]
    gap_mm = before[0].value
    assert gap_mm < 3.0  # the table's warning_mm

    window.menus.thresholds_action.trigger()  # Plan > Complication thresholds...
    dialog = window.thresholds_dialog
    assert dialog.isVisible()
    spin = dialog.spins[("safety_margin", "thresholds", None, "warning_mm")]
    assert spin.value() == 3.0
    spin.setValue(round(gap_mm - 0.2, 3))
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert window.session.case.plan.thresholds == {
        "safety_margin": {"thresholds": {"warning_mm": round(gap_mm - 0.2, 3)}}}
    _wait_checked(qtbot, window)
    assert _margins(window) == []
    assert "thresholds" in window.menus.undo_action.text()

    window.menus.undo()
    assert window.session.case.plan.thresholds == {}
    _wait_checked(qtbot, window)
    assert [c.item_id for c in _margins(window)] == ["needle-2"]

    window.menus.redo()
    path = window.session.save(tmp_path / "relaxed.surgiplan")
    assert load_case(path).plan.thresholds["safety_margin"]["thresholds"]["warning_mm"] == \
        round(gap_mm - 0.2, 3)


def test_structure_entry_and_switching_a_rule_off(qtbot, sample_window):
    window = sample_window
    _wait_checked(qtbot, window)
    structure = _margins(window)[0].structures[0]

    dialog = edit_thresholds(window)
    dialog.spins[("safety_margin", "thresholds", None, "warning_mm")].setValue(1.5)
    dialog.select_rule("safety_margin")
    dialog.structure_combo.setCurrentText(structure)
    dialog.add_structure_entry()
    key = ("safety_margin", "per_structure", structure, "warning_mm")
    assert dialog.spins[key].value() == 1.5  # starts at the plan's default
    dialog.spins[key].setValue(6.0)
    contact = next(dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())
                   if dialog.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                   == "contact_force")
    contact.setCheckState(0, Qt.CheckState.Unchecked)
    dialog.accept()
    overrides = window.session.case.plan.thresholds
    assert overrides["safety_margin"]["per_structure"][structure]["warning_mm"] == 6.0
    assert overrides["contact_force"] == {"enabled": False}
    _wait_checked(qtbot, window)
    again = _margins(window)
    assert [c.item_id for c in again] == ["needle-2"] and again[0].threshold == 6.0

    dialog = edit_thresholds(window)  # shows the plan's overrides; Reset returns to the table
    assert dialog.spins[key].value() == 6.0
    dialog.reset()
    dialog.accept()
    assert window.session.case.plan.thresholds == {}


def test_without_a_case_the_editor_explains(main_window):
    assert edit_thresholds(main_window) is None
    assert "open or build a case" in main_window.error_box.text()
