"""The desktop app end to end, driving the real widgets under Xvfb.

Sample case: open it; draw an incision by clicking on the skin in 3D; place a needle by
clicking its entry and target in a slice; move it into the portal vein with the keyboard and
see the critical complication appear; undo; save; reopen and compare. Imported scan: grow a
structure from a seed click.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from surgiplan.demo import sample_case_dir
from surgiplan.render.overlays import crosshair_pixel
from surgiplan.render.slices import Plane
from tests.ui.test_main_window import SPHERE, _import

LONG_MS = 180_000


def _wait_idle(qtbot, window, timeout=LONG_MS):
    qtbot.waitUntil(lambda: not window.runner.busy and not window.live.runner.is_busy,
                    timeout=timeout)


def _portal_branch():
    facts = json.loads((sample_case_dir() / "facts.json").read_text())
    branch = next(s for s in facts["vessels"]["portal_vein"]["segments"]
                  if s["name"] == "right_branch")
    line = np.asarray(branch["centreline_lps_mm"], dtype=float)
    return line[len(line) // 2], float(branch["radius_mm"])


def _click_slice(qtbot, window, plane: Plane, point_lps_mm):
    """Show the slice through the point and left-click it there."""
    view = window.views[plane]
    window.view_layout.set_crosshair(np.asarray(point_lps_mm, dtype=float))
    x, y = crosshair_pixel(window.volume, plane, np.asarray(point_lps_mm, dtype=float))
    position = view.pixel_to_widget(x, y).toPoint()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=position)


def _click_3d(qtbot, window, point_lps_mm):
    view = window.view3d
    view.render_now()
    x, y = view.scene.display_point(point_lps_mm)
    position = view.from_display(x, y).toPoint()
    qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=position)


def _activate(qtbot, window):
    """Menu shortcuts act in the active window on its focus widget (Xvfb has no window
    manager to do it)."""
    window.activateWindow()
    window.views[Plane.AXIAL].setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5_000)


def _flagged(window, severity):
    panel = window.complications_panel
    return [c for c in panel.complications if c.severity.label == severity]


def test_sample_case_opens_with_its_twin_plan_and_warning(sample_window):
    window = sample_window
    twin = window.session.case.twin
    assert window.pages.currentWidget() is window.view_layout
    assert window.structures_panel.model.rowCount() == len(twin.structures) == 12
    warnings = _flagged(window, "warning")
    assert [c.rule for c in warnings] == ["safety_margin"]
    assert warnings[0].structures == ("portal_vein",)
    assert window.view3d.scene.actor("liver") is not None
    assert set(window.session.case.plan.instruments) == {"needle-1", "needle-2"}
    assert window.windowTitle().startswith("Untitled case")


def test_incision_drawn_by_clicking_on_the_skin(qtbot, sample_window):
    window = sample_window
    window.view3d.view_anterior()
    incision = next(iter(window.session.case.plan.incisions.values()))
    points = np.asarray(incision.points_lps_mm)[[0, 2, 3]]
    window.menus.incision_action.trigger()
    assert window.tools.mode == "incision" and window.view3d.pick_mode
    for point in points:
        _click_3d(qtbot, window, point)
    assert len(window.tools.points) == 3
    np.testing.assert_allclose(window.tools.points, points, atol=3.0)  # picked on the skin
    qtbot.waitUntil(lambda: "Incision" in window.hint_label.text(), timeout=LONG_MS)
    window.menus.finish_action.trigger()
    drawn = list(window.session.case.plan.incisions.values())[-1]
    assert drawn.id != incision.id and drawn.structure == "skin"
    assert len(drawn.points_lps_mm) == 3
    assert window.tools.mode == "navigate"


def test_needle_moved_into_the_portal_vein_is_critical_then_undone(qtbot, sample_window,
                                                                    tmp_path):
    window = sample_window
    centre, radius = _portal_branch()
    target = centre + np.array([0.0, -(radius + 4.0), 0.0])  # 4 mm anterior of the vein wall
    entry = target + np.array([0.0, -45.0, 0.0])
    window.case_view.start_tool("place", "biopsy_needle_18g")
    _click_slice(qtbot, window, Plane.AXIAL, entry)
    _click_slice(qtbot, window, Plane.AXIAL, target)
    placed = [p for p in window.session.case.plan.instruments if p.startswith("needle-")]
    assert len(placed) == 3
    needle = window.session.placement(placed[-1])
    assert np.linalg.norm(needle.tip_lps_mm - target) < 1.5  # the slice rounds z to a voxel
    _wait_idle(qtbot, window)
    assert not _flagged(window, "critical")
    _activate(qtbot, window)
    for _ in range(int(radius + 6)):  # posterior, 1 mm per key press, into the vein
        QTest.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    _wait_idle(qtbot, window)
    critical = _flagged(window, "critical")
    assert any(c.rule == "critical_breach" and "portal_vein" in c.structures
               for c in critical)
    assert window.live.last_latency_ms is not None
    for _ in range(int(radius + 6)):
        QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _wait_idle(qtbot, window)
    assert not _flagged(window, "critical")
    np.testing.assert_allclose(window.session.placement(needle.id).tip_lps_mm,
                               needle.tip_lps_mm, atol=1e-9)

    window.files.ask_save_path = lambda: tmp_path / "planned.surgiplan"
    window.menus.save_action.trigger()
    _wait_idle(qtbot, window)
    assert not window.session.dirty and window.windowTitle().startswith("planned.surgiplan")
    saved_plan = window.session.case.plan.snapshot()
    window.files.open_case(tmp_path / "planned.surgiplan")
    qtbot.waitUntil(lambda: window.session.path is not None
                    and window.session.case.plan.snapshot() is not saved_plan, timeout=LONG_MS)
    _wait_idle(qtbot, window)
    assert window.session.case.plan.snapshot() == saved_plan
    assert window.files.recent.paths()[0] == tmp_path / "planned.surgiplan"


def test_structure_grown_from_a_seed_click(qtbot, main_window, tmp_path):
    window = main_window
    _import(qtbot, window, tmp_path)
    _wait_idle(qtbot, window)
    assert window.session is not None and not window.session.case.twin.structures
    window.case_view.start_tool("seed", "tumour")
    _click_slice(qtbot, window, Plane.AXIAL, np.asarray(SPHERE))
    qtbot.waitUntil(lambda: "tumour" in window.session.case.twin.structures
                    or window.error_box is not None, timeout=LONG_MS)
    assert window.error_box is None, window.error_box.text()
    _wait_idle(qtbot, window)
    model = window.session.case.twin.structure("tumour")
    expected_ml = 4.0 / 3.0 * np.pi * 9.0 ** 3 / 1000.0
    assert model.properties.volume_ml == pytest.approx(expected_ml, rel=0.1)
    assert model.info.tissue == "tumour"
    assert window.structures_panel.model.rowCount() == 1
    assert window.view3d.scene.actor("tumour") is not None
    _activate(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "tumour" not in window.session.case.twin.structures


def test_screenshot_of_the_sample_case(qtbot, sample_window, tmp_path):
    """The main window with the sample case: every view populated, the plan visible."""
    window = sample_window
    window.resize(1400, 900)
    qtbot.wait(200)
    path = window.menus.screenshot(tmp_path / "sample.png")
    from PIL import Image

    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape[0] >= 600 and picture.shape[1] >= 1000
    for view in [*window.views.values(), window.view3d]:
        corner = view.mapTo(window, QPoint(0, 0))
        box = picture[corner.y():corner.y() + view.height(), corner.x():corner.x() + view.width()]
        assert box.std() > 10, f"{view} looks blank"


def test_distance_measured_by_two_clicks_is_listed_with_its_value(qtbot, sample_window):
    window = sample_window
    first = np.asarray(window.session.case.plan.instruments["needle-1"].target_lps_mm)
    second = first + np.array([30.0, 0.0, 0.0])
    window.menus.measure_action.trigger()
    _click_slice(qtbot, window, Plane.AXIAL, first)
    _click_slice(qtbot, window, Plane.AXIAL, second)
    measurement = next(iter(window.session.case.plan.measurements.values()))
    points = np.asarray(measurement.points_lps_mm)
    assert np.linalg.norm(points[1] - points[0]) == pytest.approx(30.0, abs=1.0)
    listed = [row.text(1) for row in window.instruments_panel._rows()
              if row.text(0) == measurement.id]
    assert len(listed) == 1 and listed[0].endswith(" mm")
    value = float(listed[0].rsplit(": ", 1)[1].split()[0])
    assert value == pytest.approx(np.linalg.norm(points[1] - points[0]), abs=0.05)
