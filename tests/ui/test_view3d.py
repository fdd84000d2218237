"""The 3D view under Xvfb: shows the twin, click-picks a point on a surface, hover names the
structure, writes a screenshot in which the structures' colours appear."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import Plan
from surgiplan.plan.placement import place_along_path
from surgiplan.twin.twin import DisplaySettings
from tests.plan.twins import sphere_twin

LIVER = ((-20.0, -10.0, 5.0), 30.0)
VESSEL = ((40.0, 20.0, -20.0), 10.0)
COLOURS = {"liver": (0.72, 0.38, 0.28), "vessel": (0.2, 0.3, 0.9)}


@pytest.fixture
def twin():
    twin = sphere_twin({"liver": LIVER, "vessel": VESSEL})
    for name, colour in COLOURS.items():
        twin.display[name] = DisplaySettings(colour)
    return twin


@pytest.fixture
def view(qtbot, twin):
    from surgiplan.ui.view3d import View3D

    view = View3D()
    qtbot.addWidget(view)
    view.resize(480, 360)
    view.show()
    qtbot.waitExposed(view)
    view.show_twin(twin)
    yield view
    view.shutdown()


def _widget_point(view, point_lps_mm) -> QPoint:
    x, y = view.scene.display_point(point_lps_mm)
    return view.from_display(x, y).toPoint()


def _share_of_colour(image: np.ndarray, colour, tolerance: float = 0.02) -> float:
    pixels = image.reshape(-1, 3).astype(float)
    lit = pixels[pixels.sum(axis=1) > 60]
    chroma = lit / lit.sum(axis=1, keepdims=True)
    target = np.asarray(colour) / np.sum(colour)
    return float((np.abs(chroma - target).max(axis=1) < tolerance).mean())


def test_the_view_shows_the_twin_and_times_its_renders(view, twin):
    assert set(view.scene.structures) == set(twin.structures)
    for name, model in twin.structures.items():
        vertices = model.surface.vertices_lps_mm
        expected = np.column_stack([vertices.min(axis=0), vertices.max(axis=0)]).ravel()
        np.testing.assert_allclose(view.scene.actor(name).GetBounds(), expected, atol=1e-9)
    view.view_anterior()
    assert view.render_time_ms > 0


def test_a_click_in_pick_mode_emits_a_point_on_the_surface(qtbot, view):
    centre, radius = LIVER
    view.view_anterior()
    target = _widget_point(view, centre)
    view.set_pick_mode(False)
    with qtbot.assertNotEmitted(view.picked, wait=50):
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)
    view.set_pick_mode(True)
    with qtbot.waitSignal(view.picked, timeout=5000) as signal:
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)
    pick = signal.args[0]
    assert pick.structure == "liver"
    assert abs(np.linalg.norm(pick.point_lps_mm - centre) - radius) < 1.0
    assert pick.point_lps_mm[1] < centre[1] - radius + 2.0  # the anterior pole, facing us
    view.set_pick_mode(True, structures={"vessel"})
    with qtbot.assertNotEmitted(view.picked, wait=50):  # the liver is not pickable now
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)


def test_resting_the_cursor_names_the_structure_under_it(qtbot, view):
    view.view_anterior()
    with qtbot.waitSignal(view.hovered_structure, timeout=5000) as signal:
        qtbot.mouseMove(view.plotter, _widget_point(view, VESSEL[0]))
    assert signal.args == ["vessel"]
    with qtbot.waitSignal(view.hovered_structure, timeout=5000) as signal:
        qtbot.mouseMove(view.plotter, QPoint(2, 2))
    assert signal.args == [""]


def test_screenshot_is_written_and_shows_the_structures_and_the_plan(view, tmp_path):
    catalogue = load_catalogue()
    plan = Plan()
    needle = place_along_path("needle-1", catalogue.get("biopsy_needle_18g"),
                              (-20.0, -120.0, 5.0), LIVER[0])
    plan.instruments[needle.id] = needle
    view.show_plan(plan, catalogue)
    view.view_lateral()
    path = view.screenshot(tmp_path / "view.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image.reshape(-1, 3).std(axis=0).max() > 10  # not blank
    assert _share_of_colour(image, COLOURS["liver"]) > 0.02
    assert _share_of_colour(image, COLOURS["vessel"]) > 0.002
    assert view.scene.instrument_actor("needle-1") is not None
    assert [p.name for p in tmp_path.iterdir()] == ["view.png"]


def test_clicks_see_through_a_translucent_outline_unless_it_is_asked_for(qtbot, view, twin):
    view.set_display("liver", DisplaySettings(COLOURS["liver"], opacity=0.3))
    view.view_anterior()
    target = _widget_point(view, LIVER[0])
    view.set_pick_mode(True)
    with qtbot.waitSignal(view.picked, timeout=5000) as signal:  # nothing opaque behind it
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)
    assert signal.args[0].structure == "liver"
    big = sphere_twin({"outline": ((0.0, 0.0, 0.0), 90.0), "liver": LIVER})
    big.display["outline"] = DisplaySettings((0.9, 0.8, 0.7), opacity=0.25)
    big.display["liver"] = DisplaySettings(COLOURS["liver"])
    view.show_twin(big)
    target = _widget_point(view, LIVER[0])
    with qtbot.waitSignal(view.picked, timeout=5000) as signal:
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)
    assert signal.args[0].structure == "liver"
    view.set_pick_mode(True, structures={"outline"})
    with qtbot.waitSignal(view.picked, timeout=5000) as signal:
        qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, pos=target)
    assert signal.args[0].structure == "outline"
    assert abs(np.linalg.norm(signal.args[0].point_lps_mm) - 90.0) < 1.0


def test_the_view_shows_the_sample_case_with_its_plan(qtbot, view, tmp_path):
    from surgiplan.case.case_file import load_case
    from surgiplan.sample_case import sample_case_file

    case = load_case(sample_case_file())
    view.show_twin(case.twin)
    view.set_display("skin", DisplaySettings(case.twin.display["skin"].colour, visible=False))
    view.show_plan(case.plan, load_catalogue())
    assert set(view.scene.structures) == set(case.twin.structures)
    assert view.scene.instrument_actor("needle-1") is not None
    image = np.asarray(Image.open(view.screenshot(tmp_path / "sample.png")).convert("RGB"))
    assert view.render_time_ms > 0
    assert image.reshape(-1, 3).std(axis=0).max() > 10
    spleen = case.twin.display["spleen"].colour  # not behind the liver in the front view
    assert _share_of_colour(image, case.twin.display["liver"].colour, 0.02) > 0.02
    assert _share_of_colour(image, spleen, 0.02) > 0.002
