"""The slice view driven like a user: wheel, zoom, pan, clicks, window/level, overlays.

The event helpers and the known volume here are shared with ``test_layout.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from surgiplan.imaging import Volume
from surgiplan.render.slices import CT_PRESETS, Plane, WindowLevel
from surgiplan.ui.slice_view import SliceClick, SliceView

NO_MODIFIER = Qt.KeyboardModifier.NoModifier
#: i -> -x, j -> +y, k -> 2 mm along +z; origin (10, -5, 30) mm
KNOWN_AFFINE = np.array([[-1.0, 0, 0, 10.0], [0, 1.0, 0, -5.0], [0, 0, 2.0, 30.0],
                         [0, 0, 0, 1.0]])


def known_volume(affine: np.ndarray = KNOWN_AFFINE) -> Volume:
    """(10, 20, 20) CT of -1000 HU (black in soft tissue) with a 200 HU voxel at (3, 4, 5)."""
    voxels = np.full((10, 20, 20), -1000, dtype=np.int16)
    voxels[5, 4, 3] = 200
    return Volume(voxels, affine, "CT")


def _point(position) -> QPointF:
    return QPointF(*position) if isinstance(position, tuple) else QPointF(position)


def wheel(widget, position, steps: int, modifiers=NO_MODIFIER) -> None:
    """Turn the wheel by ``steps`` notches (positive = away from the user) at ``position``."""
    position = _point(position)
    event = QWheelEvent(position, QPointF(widget.mapToGlobal(position)), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _mouse(widget, kind, position, button, buttons, modifiers) -> None:
    position = _point(position)
    event = QMouseEvent(kind, position, QPointF(widget.mapToGlobal(position)), button, buttons,
                        modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget, start, end, button=Qt.MouseButton.LeftButton, modifiers=NO_MODIFIER) -> None:
    """Press ``button`` at ``start``, move to ``end`` in two steps, release."""
    start, end = _point(start), _point(end)
    _mouse(widget, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    middle = (start + end) / 2
    for position in (middle, end):
        _mouse(widget, QEvent.Type.MouseMove, position, Qt.MouseButton.NoButton, button,
               modifiers)
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton,
           modifiers)


def click(widget, position, button=Qt.MouseButton.LeftButton, modifiers=NO_MODIFIER) -> None:
    """Press and release ``button`` at ``position`` (sub-pixel positions kept)."""
    _mouse(widget, QEvent.Type.MouseButtonPress, position, button, button, modifiers)
    _mouse(widget, QEvent.Type.MouseButtonRelease, position, button, Qt.MouseButton.NoButton,
           modifiers)


SOFT_TISSUE = CT_PRESETS[0]


@pytest.fixture
def axial(qtbot):
    """An axial view of :func:`known_volume`, 200 x 200 px: 10 widget px per 1 mm voxel."""
    view = SliceView(Plane.AXIAL)
    qtbot.addWidget(view)
    view.resize(200, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_volume(known_volume(), SOFT_TISSUE)
    assert (view.width(), view.height(), view.index) == (200, 200, 5)
    return view


def _colour(view, position) -> QColor:
    return view.grab().toImage().pixelColor(QPoint(*position))


def test_fitted_slice_maps_widget_pixels_to_voxels(axial):
    assert axial.voxel_at(QPoint(35, 45)) == (3, 4, 5)
    assert axial.voxel_at(QPoint(199, 0)) == (19, 0, 5)
    assert axial.widget_to_pixel(QPointF(105, 55)) == pytest.approx((10.0, 5.0))
    assert axial.pixmap().width() == 20 and not axial.pixmap().isNull()
    assert _colour(axial, (35, 45)).value() > 200  # the 200 HU voxel, white in soft tissue
    assert _colour(axial, (55, 45)).value() == 0


def test_wheel_changes_the_slice(axial, qtbot):
    with qtbot.waitSignal(axial.index_changed) as signal:
        wheel(axial, (100, 100), 1)
    assert signal.args == [6] and axial.index == 6
    wheel(axial, (100, 100), -2)
    assert axial.index == 4
    wheel(axial, (100, 100), -50)
    assert axial.index == 0


def test_ctrl_wheel_zooms_keeping_the_point_under_the_cursor(axial):
    cursor = QPointF(37.0, 151.0)
    under_before = axial.widget_to_pixel(cursor)
    wheel(axial, cursor, 2, Qt.KeyboardModifier.ControlModifier)
    assert axial.zoom == pytest.approx(1.25 ** 2)
    assert axial.index == 5  # zooming does not scroll
    assert axial.widget_to_pixel(cursor) == pytest.approx(under_before)
    # everything else spreads away from the cursor by the zoom factor
    x, y = axial.widget_to_pixel(QPointF(137.0, 151.0))
    assert (x - under_before[0]) * 10 * 1.5625 == pytest.approx(100.0)
    assert y == pytest.approx(under_before[1])


@pytest.mark.parametrize("button, modifiers", [
    (Qt.MouseButton.MiddleButton, NO_MODIFIER),
    (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)])
def test_middle_or_shift_drag_pans(axial, button, modifiers):
    moved = []
    axial.crosshair_moved.connect(moved.append)
    drag(axial, (50, 50), (80, 30), button, modifiers)
    assert axial.widget_to_pixel(QPointF(80, 30)) == pytest.approx((4.5, 4.5))
    assert axial.voxel_at(QPoint(65, 25)) == (3, 4, 5)  # the bright voxel moved (+30, -20) px
    assert moved == []


def test_left_click_emits_the_lps_point_of_the_known_affine(axial, qtbot):
    with qtbot.waitSignal(axial.clicked) as signal:
        click(axial, QPointF(107.0, 52.0), modifiers=Qt.KeyboardModifier.ControlModifier)
    event = signal.args[0]
    assert isinstance(event, SliceClick)
    # pixel (10.2, 4.7) on slice k = 5: x = 10 - i, y = j - 5, z = 30 + 2 k
    np.testing.assert_allclose(event.point_lps_mm, [-0.2, -0.3, 40.0], atol=1e-9)
    assert event.ijk == (10, 5, 5)
    assert event.plane is Plane.AXIAL
    assert event.button == Qt.MouseButton.LeftButton
    assert event.modifiers == Qt.KeyboardModifier.ControlModifier
    np.testing.assert_allclose(axial.crosshair_lps_mm, [-0.2, -0.3, 40.0])


def test_pick_tool_clicks_without_moving_the_crosshair(axial, qtbot):
    axial.tool = "pick"
    moved, clicks = [], []
    axial.crosshair_moved.connect(moved.append)
    axial.clicked.connect(clicks.append)
    click(axial, QPointF(35, 45))
    assert len(clicks) == 1 and clicks[0].ijk == (3, 4, 5)
    np.testing.assert_allclose(clicks[0].point_lps_mm, [7.0, -1.0, 40.0])
    assert moved == [] and axial.crosshair_lps_mm is None
    with pytest.raises(ValueError, match="navigate"):
        axial.tool = "scalpel"


def test_left_drag_moves_the_crosshair_and_clicks_outside_the_image_do_nothing(axial, qtbot):
    moved = []
    axial.crosshair_moved.connect(moved.append)
    drag(axial, (5, 5), (195, 195))
    assert len(moved) == 3
    np.testing.assert_allclose(moved[-1], [10.0 - 19, 19 - 5.0, 40.0])
    axial.zoom_about(QPointF(100, 100), 0.5)  # image now spans widget 50..150
    clicks = []
    axial.clicked.connect(clicks.append)
    click(axial, QPointF(20, 20))
    assert clicks == []


def test_right_drag_changes_the_window(axial, qtbot):
    before = axial.pixmap().toImage()
    windows = []
    axial.window_changed.connect(windows.append)
    drag(axial, (100, 100), (200, 150), Qt.MouseButton.RightButton)
    # right 100 px doubles the width; down 50 px raises the centre by 50/200 of the width
    assert len(windows) == 2  # one per mouse move
    assert windows[-1] == WindowLevel("Custom", 140.0, 800.0)
    assert axial.window == WindowLevel("Custom", 140.0, 800.0)
    assert axial.pixmap().toImage() != before


def test_label_overlay_is_drawn_over_its_voxel(axial):
    labels = np.zeros((10, 20, 20), dtype=np.uint16)
    labels[5, 12, 6] = 3
    axial.set_labels(labels, {3: (255, 0, 0)}, opacity=1.0)
    colour = _colour(axial, (65, 125))  # voxel (6, 12) centre
    assert (colour.red(), colour.green(), colour.blue()) == (255, 0, 0)
    assert _colour(axial, (85, 125)).red() == 0
    axial.set_labels(None, {})
    assert _colour(axial, (65, 125)).red() == 0


def test_mesh_outlines_are_drawn_in_the_structure_colour(axial):
    import pyvista as pv

    centre = known_volume().ijk_to_lps([[9.5, 9.5, 5.0]])[0]
    sphere = pv.Sphere(radius=6.0, center=centre, theta_resolution=60, phi_resolution=60)
    faces = sphere.faces.reshape(-1, 4)[:, 1:]
    axial.set_outlines({"liver": (sphere.points, faces, (0.0, 1.0, 0.0))})
    image = axial.grab().toImage()
    # the circle crosses the row through the centre at pixel x = 9.5 +- 6 (widget 40 and 160)
    for x in (40, 160):
        greens = [image.pixelColor(x + dx, 100).green() for dx in (-1, 0, 1)]
        assert max(greens) > 150
        assert image.pixelColor(x, 100).red() < 50
    assert image.pixelColor(100, 100).green() < 50  # inside: not filled
    wheel(axial, (100, 100), 5)  # slice 10, off the sphere
    assert axial.grab().toImage().pixelColor(40, 100).green() < 50


def test_set_crosshair_moves_to_the_slice_through_the_point_and_draws_it(axial):
    point = known_volume().ijk_to_lps([[12.0, 7.0, 8.0]])[0]
    axial.set_crosshair(point)
    assert axial.index == 8
    image = axial.grab().toImage()
    line = image.pixelColor(125, 20)  # vertical line through x = 12 -> widget 125
    assert line.red() > 200 and line.green() > 150 and line.blue() < 80
    assert image.pixelColor(125, 75).red() < 50  # the gap around the centre (125, 75)


def test_centre_on_puts_the_point_in_the_middle(axial):
    axial.zoom_about(QPointF(100, 100), 3.0)
    point = known_volume().ijk_to_lps([[2.0, 17.0, 1.0]])[0]
    axial.centre_on(point)
    assert axial.index == 1
    centre = axial.pixel_to_widget(2.0, 17.0)
    assert (centre.x(), centre.y()) == pytest.approx((100.0, 100.0))
