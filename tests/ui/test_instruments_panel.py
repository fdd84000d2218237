"""The instruments panel: catalogue by category, Place, plan items, delete and nudges."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import Incision, InstrumentPlacement, Landmark, Measurement, Plan
from surgiplan.ui.instruments_panel import InstrumentsPanel


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _plan() -> Plan:
    pose = np.eye(4)
    pose[:3, 3] = (-82.0, -32.0, 18.0)
    plan = Plan()
    plan.instruments["needle-1"] = InstrumentPlacement(
        "needle-1", "biopsy_needle_18g", tuple(map(tuple, pose)), insertion_depth_mm=62.0)
    plan.instruments["port-1"] = InstrumentPlacement(
        "port-1", "trocar_5mm", tuple(map(tuple, np.eye(4))), insertion_depth_mm=30.0,
        pivot_lps_mm=(0.0, 0.0, 0.0))
    plan.incisions["cut-1"] = Incision("cut-1", "skin", ((-120, -75, -36), (-56, -107, -36)))
    plan.measurements["m-1"] = Measurement("m-1", "point_structure",
                                           points_lps_mm=((0, 0, 0),), structures=("liver",))
    plan.landmarks["lm-1"] = Landmark("lm-1", (1, 2, 3), "tumour centre")
    return plan


@pytest.fixture
def panel(qtbot, catalogue):
    widget = InstrumentsPanel(catalogue=catalogue)
    qtbot.addWidget(widget)
    widget.resize(600, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _groups(tree):
    root = tree.invisibleRootItem()
    groups = [root.child(g) for g in range(root.childCount())]
    return {group.text(0): [group.child(n) for n in range(group.childCount())] for group in groups}


def _click(qtbot, tree, item):
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(rect.left() + 5, rect.center().y()))


def test_catalogue_is_grouped_by_category_with_dimensions(panel, catalogue):
    groups = _groups(panel.catalogue_tree)
    assert list(groups) == ["Needles", "Scalpels", "Probes", "Trocars", "Graspers",
                            "Retractors", "Drills"]  # the catalogue's category order
    assert [row.data(0, Qt.ItemDataRole.UserRole) for row in groups["Needles"]] == [
        "biopsy_needle_18g", "biopsy_needle_14g"]
    needle = groups["Needles"][0]
    assert [needle.text(c) for c in range(4)] == ["18G biopsy needle", "1.27", "150", "bevel"]
    assert groups["Trocars"][1].text(1) == "14"  # 12 mm trocar: 14 mm outer diameter
    assert sum(len(rows) for rows in groups.values()) == len(catalogue)


def test_place_needs_an_instrument_and_emits_its_id(qtbot, panel):
    assert not panel.place_button.isEnabled()
    groups = _groups(panel.catalogue_tree)
    _click(qtbot, panel.catalogue_tree, panel.catalogue_tree.topLevelItem(1))  # a category
    assert not panel.place_button.isEnabled()
    _click(qtbot, panel.catalogue_tree, groups["Needles"][1])
    assert panel.place_button.isEnabled()
    with qtbot.waitSignal(panel.place_requested) as blocker:
        qtbot.mouseClick(panel.place_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["biopsy_needle_14g"]
    with qtbot.waitSignal(panel.place_requested) as blocker:
        panel.catalogue_tree.scrollToItem(groups["Drills"][0])
        rect = panel.catalogue_tree.visualItemRect(groups["Drills"][0])
        point = QPoint(rect.left() + 5, rect.center().y())
        viewport = panel.catalogue_tree.viewport()
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point)
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == ["drill"]


def test_plan_items_are_listed_by_collection(panel):
    panel.set_plan(_plan(), notes={"m-1": "12.4 mm"})
    groups = _groups(panel.plan_tree)
    assert list(groups) == ["Incisions", "Instruments", "Landmarks", "Measurements"]
    assert [(r.text(0), r.text(1)) for r in groups["Instruments"]] == [
        ("needle-1", "18G biopsy needle, 62 mm inserted"),
        ("port-1", "5 mm laparoscopic trocar, 30 mm inserted, pivots at its port")]
    assert groups["Incisions"][0].text(1) == "on skin, 2 points, 5 mm deep"
    assert groups["Measurements"][0].text(1) == "distance to liver: 12.4 mm"
    assert groups["Landmarks"][0].text(1) == "tumour centre"
    panel.set_plan(Plan())
    assert panel.plan_tree.topLevelItemCount() == 0
    assert not panel.delete_button.isEnabled()


def test_selecting_a_placement_enables_nudges_that_emit_steps(qtbot, panel):
    panel.set_plan(_plan())
    assert not any(b.isEnabled() for b in panel.nudge_buttons)
    with qtbot.waitSignal(panel.item_selected) as blocker:
        _click(qtbot, panel.plan_tree, _groups(panel.plan_tree)["Instruments"][0])
    assert blocker.args == ["instruments", "needle-1"]
    assert all(b.isEnabled() for b in panel.nudge_buttons)
    emitted = []
    panel.nudge_requested.connect(lambda *args: emitted.append(args))
    for button in panel.nudge_buttons:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert emitted == [("needle-1", "advance", 1.0), ("needle-1", "advance", -1.0),
                       ("needle-1", "tilt", 2.0), ("needle-1", "tilt", -2.0)]
    assert [b.text() for b in panel.nudge_buttons] == [
        "Advance 1 mm", "Retract 1 mm", "Tilt +2°", "Tilt -2°"]


def test_incisions_can_be_deleted_not_nudged(qtbot, panel):
    panel.set_plan(_plan())
    with qtbot.waitSignal(panel.item_selected) as blocker:
        _click(qtbot, panel.plan_tree, _groups(panel.plan_tree)["Incisions"][0])
    assert blocker.args == ["incisions", "cut-1"]
    assert not any(b.isEnabled() for b in panel.nudge_buttons)
    with qtbot.waitSignal(panel.delete_requested) as blocker:
        qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["incisions", "cut-1"]
    panel.plan_tree.setFocus()
    with qtbot.waitSignal(panel.delete_requested) as blocker:
        qtbot.keyClick(panel.plan_tree, Qt.Key.Key_Delete)
    assert blocker.args == ["incisions", "cut-1"]


def test_set_plan_keeps_the_selection_without_emitting(qtbot, panel):
    plan = _plan()
    panel.set_plan(plan)
    assert panel.select_item("instruments", "port-1")
    assert panel.selected_item() == ("instruments", "port-1")
    with qtbot.assertNotEmitted(panel.item_selected):
        panel.set_plan(plan)
    assert panel.selected_item() == ("instruments", "port-1")
    assert all(b.isEnabled() for b in panel.nudge_buttons)
    del plan.instruments["port-1"]
    with qtbot.assertNotEmitted(panel.item_selected):
        panel.set_plan(plan)
    assert panel.selected_item() is None
    assert not panel.delete_button.isEnabled()
    assert not panel.select_item("instruments", "port-1")
