"""The complications panel: critical first, severity colours, summary, busy state, clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from surgiplan.risk.model import Complication, Severity
from surgiplan.ui.complications_panel import (
    BUSY_TEXT,
    COLUMNS,
    NOT_CHECKED,
    ComplicationsPanel,
)


def _complication(rule: str, severity: str, value: float, threshold: float, unit: str = "mm",
                  location=(1.0, 2.0, 3.0)) -> Complication:
    return Complication(rule=rule, severity=severity, structures=("portal_vein",),
                        location_lps_mm=location, value=value, threshold=threshold, unit=unit,
                        message=f"{rule}: {value} {unit} against {threshold} {unit}")


FOUND = [
    _complication("port_geometry", "info", 40.0, 50.0, "deg", location=None),
    _complication("safety_margin", "warning", 2.1, 3.0),
    _complication("breach", "critical", 4.5, 0.0, location=(-82.0, -32.0, 18.0)),
    _complication("contact_force", "warning", 6.0, 5.0, "N"),
    _complication("breach_2", "critical", 1.0, 0.0),
]


@pytest.fixture
def panel(qtbot):
    widget = ComplicationsPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _column(panel, name):
    return [panel.table.item(r, COLUMNS.index(name)).text()
            for r in range(panel.table.rowCount())]


def test_critical_first_then_warnings_then_info_keeping_rule_order(panel):
    panel.set_complications(FOUND)
    assert [c.rule for c in panel.complications] == [
        "breach", "breach_2", "safety_margin", "contact_force", "port_geometry"]
    assert _column(panel, "Severity") == ["critical", "critical", "warning", "warning", "info"]
    assert _column(panel, "Finding")[0] == "breach: 4.5 mm against 0.0 mm"
    assert _column(panel, "Value")[2:4] == ["2.1 mm", "6 N"]
    assert _column(panel, "Limit")[2:5] == ["3 mm", "5 N", "50 deg"]
    assert _column(panel, "Structures")[0] == "portal_vein"


def test_rows_are_coloured_by_severity(panel):
    panel.set_complications(FOUND)
    colours = [panel.severity_colour(r).name() for r in range(5)]
    assert colours == ["#d32f2f", "#d32f2f", "#ffa000", "#ffa000", "#1e88e5"]
    red = QColor("#d32f2f")
    assert red.red() > 200 and red.green() < 60  # critical is red
    blue = panel.severity_colour(4)
    assert blue.blue() > blue.red()


def test_summary_counts_and_no_complications(panel):
    assert panel.summary.text() == NOT_CHECKED
    panel.set_complications(FOUND)
    assert panel.summary.text() == "2 critical, 2 warnings, 1 info"
    panel.set_complications(FOUND[1:3])
    assert panel.summary.text() == "1 critical, 1 warning"
    panel.set_complications([])
    assert panel.summary.text() == "No complications"
    assert panel.table.rowCount() == 0
    panel.clear()
    assert panel.summary.text() == NOT_CHECKED


def test_busy_state_while_checking(panel):
    panel.set_complications(FOUND)
    panel.set_busy(True)
    assert panel.summary.text() == BUSY_TEXT
    assert not panel.table.isEnabled()
    assert panel.table.rowCount() == 5  # the last result stays visible, greyed out
    panel.set_busy(False)
    assert panel.summary.text() == "2 critical, 2 warnings, 1 info"
    panel.set_busy(True)
    panel.set_complications(FOUND[:1])
    assert not panel.busy and panel.table.isEnabled()
    assert panel.summary.text() == "1 info"


def test_clicking_a_row_emits_its_complication(qtbot, panel):
    panel.set_complications(FOUND)
    for row, expected in ((0, "breach"), (4, "port_geometry"), (0, "breach")):
        rect = panel.table.visualRect(panel.table.model().index(row, 1))
        with qtbot.waitSignal(panel.selected) as blocker:
            qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                             pos=rect.center())
        complication = blocker.args[0]
        assert isinstance(complication, Complication) and complication.rule == expected
    assert blocker.args[0].location_lps_mm == (-82.0, -32.0, 18.0)
    assert blocker.args[0].severity is Severity.CRITICAL


def test_filling_the_list_emits_nothing(qtbot, panel):
    with qtbot.assertNotEmitted(panel.selected):
        panel.set_complications(FOUND)
        panel.set_complications(FOUND[:2])
