"""The view layout: modes show the right widgets; crosshair and window linked across slices."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from scipy.spatial.transform import Rotation

from surgiplan.render.slices import CT_PRESETS, Plane, WindowLevel
from surgiplan.ui.layout import ViewLayout
from tests.ui.test_slice_view import click, drag, known_volume


def _oblique_affine() -> np.ndarray:
    affine = np.eye(4)
    rotation = Rotation.from_euler("zyx", [25.0, -8.0, 14.0], degrees=True).as_matrix()
    affine[:3, :3] = rotation * np.array([0.9, 0.9, 2.5])[None, :]
    affine[:3, 3] = (-40.0, 12.0, 300.0)
    return affine


@pytest.fixture
def layout(qtbot):
    placeholder = QWidget()
    placeholder.setObjectName("3d placeholder")
    widget = ViewLayout(placeholder)
    qtbot.addWidget(widget)
    widget.resize(640, 640)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _shown(layout) -> set:
    names = {layout.view3d: "3d", **{view: plane.name for plane, view in layout.views.items()}}
    return {name for widget, name in names.items() if widget.isVisible()}


def test_modes_show_and_hide_the_right_widgets(layout):
    assert set(layout.views) == set(Plane)
    assert layout.views[Plane.CORONAL].plane is Plane.CORONAL
    assert _shown(layout) == {"3d", "AXIAL", "CORONAL", "SAGITTAL"}
    layout.set_mode("3d_only")
    assert _shown(layout) == {"3d"}
    layout.set_mode("slice_3d")
    assert _shown(layout) == {"3d", "AXIAL"}
    layout.set_main_slice(Plane.SAGITTAL)
    assert _shown(layout) == {"3d", "SAGITTAL"}
    view, view3d = layout.views[Plane.SAGITTAL], layout.view3d
    assert view.width() > 250 and view3d.width() > 250 and view.height() > 600
    assert view.geometry().right() < view3d.geometry().left()  # side by side
    layout.set_mode("four_up")
    assert _shown(layout) == {"3d", "AXIAL", "CORONAL", "SAGITTAL"}
    assert all(w.width() < 330 and w.height() < 330 for w in (*layout.views.values(), view3d))
    with pytest.raises(ValueError, match="four_up"):
        layout.set_mode("two_up")


def test_default_3d_widget_is_a_placeholder(qtbot):
    widget = ViewLayout()
    qtbot.addWidget(widget)
    assert isinstance(widget.view3d, QWidget)


def test_crosshair_placed_in_one_view_moves_the_others_to_its_slices(layout, qtbot):
    volume = known_volume(_oblique_affine())
    layout.set_volume(volume, CT_PRESETS[0])
    axial = layout.views[Plane.AXIAL]
    assert axial.index == 5 and axial.crosshair_lps_mm is not None
    axial.set_index(3)
    target = axial.pixel_to_widget(12.0, 7.0)  # voxel (12, 7, 3)
    with qtbot.waitSignal(layout.crosshair_moved) as signal:
        click(layout.views[Plane.AXIAL], target)
    expected = volume.ijk_to_lps([[12.0, 7.0, 3.0]])[0]
    np.testing.assert_allclose(signal.args[0], expected, atol=1e-6)
    assert layout.views[Plane.CORONAL].index == 7
    assert layout.views[Plane.SAGITTAL].index == 12
    assert axial.index == 3
    for view in layout.views.values():
        np.testing.assert_allclose(view.crosshair_lps_mm, expected, atol=1e-6)
    # and back: a click in the sagittal view moves the axial and coronal slices
    sagittal = layout.views[Plane.SAGITTAL]
    click(sagittal, sagittal.pixel_to_widget(15.0, 9.0 - 8.0))  # j = 15, k = 9 - 1 = 8
    assert (axial.index, layout.views[Plane.CORONAL].index, sagittal.index) == (8, 15, 12)


def test_pick_tool_routes_clicks_without_moving_the_crosshair(layout, qtbot):
    layout.set_volume(known_volume(), CT_PRESETS[0])
    layout.set_tool("pick")
    coronal = layout.views[Plane.CORONAL]
    before = [view.index for view in layout.views.values()]
    moved = []
    layout.crosshair_moved.connect(moved.append)
    with qtbot.waitSignal(layout.clicked) as signal:
        click(coronal, coronal.pixel_to_widget(3.0, 9.0 - 5.0))
    assert signal.args[0].ijk == (3, coronal.index, 5) and signal.args[0].plane is Plane.CORONAL
    assert moved == [] and [view.index for view in layout.views.values()] == before


def test_window_dragged_in_one_view_applies_to_all(layout, qtbot):
    layout.set_volume(known_volume(), CT_PRESETS[0])
    windows = []
    layout.window_changed.connect(windows.append)
    drag(layout.views[Plane.CORONAL], (100, 100), (200, 100), Qt.MouseButton.RightButton)
    assert windows[-1] == WindowLevel("Custom", 40.0, 800.0)
    assert all(view.window == windows[-1] for view in layout.views.values())
    layout.set_window(CT_PRESETS[1])
    assert all(view.window == CT_PRESETS[1] for view in layout.views.values())


def test_labels_and_outlines_reach_every_slice(layout):
    volume = known_volume()
    layout.set_volume(volume, CT_PRESETS[0])
    labels = np.zeros(volume.shape, dtype=np.uint16)
    labels[5, 10, 10] = 1
    layout.set_labels(labels, {1: (0, 0, 255)}, 1.0)
    layout.centre_on(volume.ijk_to_lps([[10.0, 10.0, 5.0]])[0])
    for view in layout.views.values():
        centre = view.grab().toImage().pixelColor(view.width() // 2 + 1, view.height() // 2 + 1)
        assert centre.blue() == 255 and centre.red() == 0
