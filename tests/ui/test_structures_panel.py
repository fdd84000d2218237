"""The structures table: every column editable as a request; the twin itself never changes."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

from surgiplan.twin.tissues import load_tissues
from surgiplan.twin.twin import DisplaySettings
from surgiplan.ui.structures_panel import (
    COLOUR,
    CRITICAL,
    NAME,
    OPACITY,
    TISSUE,
    VISIBLE,
    VOLUME,
    StructuresPanel,
)
from tests.plan.twins import sphere_twin

LIVER_DISPLAY = DisplaySettings((0.6, 0.2, 0.2), 0.8, True)


@pytest.fixture
def twin():
    twin = sphere_twin({"liver": ((0.0, 0.0, 0.0), 30.0),
                        "portal_vein": ((50.0, 0.0, 0.0), 5.0, True)})
    twin.structures["liver"].info = replace(twin.structures["liver"].info, tissue="liver")
    twin.display["liver"] = LIVER_DISPLAY
    return twin


@pytest.fixture
def panel(qtbot, twin):
    widget = StructuresPanel()
    qtbot.addWidget(widget)
    widget.set_twin(twin)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _index(panel, row, column):
    return panel.model.index(row, column)


def _text(panel, row, column):
    return panel.model.data(_index(panel, row, column))


def _state(panel, row, column):
    return panel.model.data(_index(panel, row, column), Qt.ItemDataRole.CheckStateRole)


def test_rows_show_the_twin(panel, twin):
    assert panel.model.rowCount() == 2
    assert [_text(panel, r, NAME) for r in range(2)] == ["liver", "portal_vein"]
    volume = twin.structures["liver"].properties.volume_ml
    assert 105 < volume < 114  # icosphere of radius 30 mm: just under 113.1 mL
    assert _text(panel, 0, VOLUME) == f"{volume:.1f}"
    assert _text(panel, 0, OPACITY) == "0.80"
    assert _text(panel, 0, TISSUE) == "liver"
    assert _text(panel, 1, TISSUE) == "soft_tissue"
    assert _state(panel, 0, VISIBLE) == Qt.CheckState.Checked
    assert _state(panel, 0, CRITICAL) == Qt.CheckState.Unchecked
    assert _state(panel, 1, CRITICAL) == Qt.CheckState.Checked
    swatch = panel.model.data(_index(panel, 0, COLOUR), Qt.ItemDataRole.BackgroundRole)
    assert swatch.name() == QColor.fromRgbF(0.6, 0.2, 0.2).name()
    default = panel.model.data(_index(panel, 1, COLOUR), Qt.ItemDataRole.BackgroundRole)
    assert default.name() == QColor.fromRgbF(0.8, 0.8, 0.8).name()  # the label's colour
    assert not panel.model.flags(_index(panel, 0, VOLUME)) & Qt.ItemFlag.ItemIsEditable


def test_opacity_edited_in_its_spin_box_requests_display_settings(qtbot, panel, twin):
    index = _index(panel, 0, OPACITY)
    panel.view.setCurrentIndex(index)
    panel.view.edit(index)
    spin = panel.view.indexWidget(index)
    assert isinstance(spin, QDoubleSpinBox) and spin.maximum() == 1.0 and spin.value() == 0.8
    spin.setValue(0.35)
    with qtbot.waitSignal(panel.display_change_requested) as blocker:
        qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert blocker.args == ["liver", DisplaySettings((0.6, 0.2, 0.2), 0.35, True)]
    assert twin.display["liver"] == LIVER_DISPLAY  # unchanged until the window applies it
    assert _text(panel, 0, OPACITY) == "0.80"


def test_opacity_is_clamped_and_unchanged_values_request_nothing(qtbot, panel):
    with qtbot.waitSignal(panel.display_change_requested) as blocker:
        assert panel.model.setData(_index(panel, 1, OPACITY), -0.5)
    assert blocker.args[1].opacity == 0.0 and blocker.args[1].colour == (0.8, 0.8, 0.8)
    with qtbot.assertNotEmitted(panel.display_change_requested):
        assert not panel.model.setData(_index(panel, 0, OPACITY), 0.8)


def test_space_on_the_visible_box_requests_hiding(qtbot, panel):
    panel.view.setCurrentIndex(_index(panel, 0, VISIBLE))
    panel.view.setFocus()
    with qtbot.waitSignal(panel.display_change_requested) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Space)
    assert blocker.args == ["liver", DisplaySettings((0.6, 0.2, 0.2), 0.8, False)]


def test_critical_box_and_tissue_combo_request_structure_changes(qtbot, panel, twin):
    with qtbot.waitSignal(panel.structure_change_requested) as blocker:
        panel.model.setData(_index(panel, 1, CRITICAL), Qt.CheckState.Unchecked.value,
                            Qt.ItemDataRole.CheckStateRole)
    assert blocker.args == ["portal_vein", {"critical": False}]
    index = _index(panel, 1, TISSUE)
    panel.view.setCurrentIndex(index)
    panel.view.edit(index)
    combo = panel.view.indexWidget(index)
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(n) for n in range(combo.count())] == list(load_tissues())
    combo.setCurrentText("vessel")
    with qtbot.waitSignal(panel.structure_change_requested) as blocker:
        qtbot.keyClick(combo, Qt.Key.Key_Return)
    assert blocker.args == ["portal_vein", {"tissue": "vessel"}]
    assert twin.structures["portal_vein"].info.tissue == "soft_tissue"
    assert twin.structures["portal_vein"].info.critical


def test_rename_requests_any_other_name(qtbot, panel, twin):
    with qtbot.waitSignal(panel.structure_change_requested) as blocker:
        assert panel.model.setData(_index(panel, 0, NAME), "  liver_left ")
    assert blocker.args == ["liver", {"name": "liver_left"}]
    with qtbot.assertNotEmitted(panel.structure_change_requested):
        assert not panel.model.setData(_index(panel, 0, NAME), " liver ")
    for name in ("", "portal_vein"):  # the session refuses these and says why
        with qtbot.waitSignal(panel.structure_change_requested) as blocker:
            assert panel.model.setData(_index(panel, 0, NAME), name)
        assert blocker.args == ["liver", {"name": name}]
    assert list(twin.structures) == ["liver", "portal_vein"]


def test_clicking_the_swatch_opens_a_colour_dialog(qtbot, panel, twin):
    rect = panel.view.visualRect(_index(panel, 0, COLOUR))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = panel.colour_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.currentColor().name() == QColor.fromRgbF(0.6, 0.2, 0.2).name()
    dialog.setCurrentColor(QColor(255, 0, 0))
    with qtbot.waitSignal(panel.display_change_requested) as blocker:
        dialog.accept()
    assert blocker.args == ["liver", DisplaySettings((1.0, 0.0, 0.0), 0.8, True)]
    assert twin.display["liver"] == LIVER_DISPLAY


def test_selecting_a_row_emits_its_name(qtbot, panel):
    rect = panel.view.visualRect(_index(panel, 1, VOLUME))
    with qtbot.waitSignal(panel.selected) as blocker:
        qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["portal_vein"]
    assert panel.current_name() == "portal_vein"


def test_refresh_after_the_window_applied_a_change(qtbot, panel, twin):
    panel.select("portal_vein")
    twin.display["liver"] = replace(LIVER_DISPLAY, opacity=0.3, visible=False)
    with qtbot.assertNotEmitted(panel.selected):
        panel.refresh("liver")
    assert _text(panel, 0, OPACITY) == "0.30"
    assert _state(panel, 0, VISIBLE) == Qt.CheckState.Unchecked
    assert panel.current_name() == "portal_vein"


def test_refresh_after_a_rename_rebuilds_and_follows_the_structure(qtbot, panel, twin):
    panel.select("liver")
    model = copy.copy(twin.structures["liver"])
    model.info = replace(model.info, name="liver_left")
    twin.structures = {"liver_left": model, "portal_vein": twin.structures["portal_vein"]}
    twin.display = {"liver_left": twin.display.pop("liver")}
    with qtbot.assertNotEmitted(panel.selected):
        panel.refresh("liver_left")
    assert [_text(panel, r, NAME) for r in range(2)] == ["liver_left", "portal_vein"]
    assert panel.current_name() == "liver_left"
    with qtbot.assertNotEmitted(panel.selected):
        panel.set_twin(twin)
    assert panel.current_name() == "liver_left"
    panel.set_twin(None)
    assert panel.model.rowCount() == 0 and panel.current_name() is None
