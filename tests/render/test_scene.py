"""TwinScene in an off-screen plotter: actors in LPS mm, display settings, deformation,
instruments at their poses, highlights, cameras and picking, with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import pyvista as pv

from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import Incision, Landmark, Measurement, Plan
from surgiplan.plan.placement import place_along_path
from surgiplan.render import scene_items
from surgiplan.render.offscreen import configure_offscreen
from surgiplan.render.scene import TwinScene
from surgiplan.twin.twin import DisplaySettings
from tests.plan.twins import sphere_twin

SKIN = ((0.0, 0.0, 0.0), 90.0)
LIVER = ((-20.0, -10.0, 5.0), 30.0)
VESSEL = ((40.0, 20.0, -20.0), 8.0)
COLOURS = {"skin": (0.94, 0.76, 0.65), "liver": (0.72, 0.38, 0.28), "vessel": (0.2, 0.3, 0.9)}
SIZE = (400, 300)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture
def twin():
    twin = sphere_twin({"skin": SKIN, "liver": LIVER, "vessel": VESSEL})
    for name, colour in COLOURS.items():
        twin.display[name] = DisplaySettings(colour)
    return twin


@pytest.fixture
def plotter():
    configure_offscreen()
    plotter = pv.Plotter(off_screen=True, window_size=SIZE)
    plotter.render_window.SetMultiSamples(0)
    plotter.background_color = (0.0, 0.0, 0.0)
    yield plotter
    plotter.close()


@pytest.fixture
def scene(plotter, twin):
    scene = TwinScene(plotter)
    scene.show_twin(twin)
    return scene


def _picture(plotter) -> np.ndarray:
    plotter.render()  # a no-op before the first picture, which renders by itself
    return np.asarray(plotter.screenshot(return_img=True))[..., :3]


def _has_colour(image: np.ndarray, colour, *, tolerance: float = 0.02,
                minimum: int = 50) -> bool:
    """Whether at least ``minimum`` lit pixels have the chromaticity of ``colour`` (white
    lights scale a surface colour without changing its chromaticity)."""
    pixels = image.reshape(-1, 3).astype(float)
    lit = pixels[pixels.sum(axis=1) > 60]
    chroma = lit / lit.sum(axis=1, keepdims=True)
    target = np.asarray(colour) / np.sum(colour)
    return int((np.abs(chroma - target).max(axis=1) < tolerance).sum()) >= minimum


def test_one_actor_per_structure_with_its_mesh_bounds_in_lps_mm(scene, twin, plotter):
    assert set(scene.structures) == set(twin.structures)
    for name, model in twin.structures.items():
        vertices = model.surface.vertices_lps_mm
        expected = np.column_stack([vertices.min(axis=0), vertices.max(axis=0)]).ravel()
        np.testing.assert_allclose(scene.actor(name).GetBounds(), expected, atol=1e-9)
        assert plotter.renderer.actors[f"structure:{name}"] is scene.actor(name)


def test_colours_opacity_and_visibility_follow_the_display_settings(scene, plotter):
    for name, colour in COLOURS.items():
        np.testing.assert_allclose(scene.actor(name).GetProperty().GetColor(), colour, atol=1e-6)
        assert scene.actor(name).prop.opacity == 1.0 and scene.actor(name).visibility
    assert _has_colour(_picture(plotter), COLOURS["skin"])  # the opaque skin hides the organs
    assert not _has_colour(_picture(plotter), COLOURS["liver"])
    liver = scene.actor("liver")
    scene.set_display("skin", DisplaySettings(COLOURS["skin"], visible=False))
    scene.set_display("liver", DisplaySettings((0.1, 0.8, 0.2), opacity=0.5))
    assert scene.actor("liver") is liver  # updated in place, not rebuilt
    assert liver.prop.opacity == 0.5 and not scene.actor("skin").visibility
    image = _picture(plotter)
    assert not _has_colour(image, COLOURS["skin"])
    assert _has_colour(image, (0.1, 0.8, 0.2))


def test_set_deformed_moves_the_bounds_by_the_known_displacement(scene, twin):
    rest = twin.structures["liver"].surface.vertices_lps_mm
    before = np.array(scene.actor("liver").GetBounds())
    shift = np.array([3.0, -7.5, 12.0])
    scene.set_deformed("liver", rest + shift)
    np.testing.assert_allclose(scene.actor("liver").GetBounds(), before + np.repeat(shift, 2),
                               atol=1e-9)
    scene.set_deformed("liver", rest)
    np.testing.assert_allclose(scene.actor("liver").GetBounds(), before, atol=1e-9)
    with pytest.raises(ValueError):
        scene.set_deformed("liver", rest[:-1])


def _needle(catalogue, plan_id="needle-1", entry=(-20.0, -89.0, 5.0), target=LIVER[0]):
    return place_along_path(plan_id, catalogue.get("biopsy_needle_18g"), entry, target)


def test_instrument_actor_sits_at_the_placement_tip_along_its_axis(scene, catalogue):
    plan = Plan()
    needle = _needle(catalogue)
    plan.instruments[needle.id] = needle
    scene.show_plan(plan, catalogue)
    actor = scene.instrument_actor(needle.id)
    matrix = pv.array_from_vtkmatrix(actor.GetMatrix())
    np.testing.assert_allclose(matrix, needle.pose, atol=1e-12)
    tip = matrix @ (0.0, 0.0, 0.0, 1.0)
    behind = matrix @ (0.0, 0.0, -100.0, 1.0)
    np.testing.assert_allclose(tip[:3], LIVER[0], atol=1e-9)
    np.testing.assert_allclose((tip - behind)[:3] / 100.0, needle.axis, atol=1e-12)
    low, high = np.reshape(actor.GetBounds(), (3, 2)).T
    assert np.all(low - 1e-6 <= LIVER[0]) and np.all(np.asarray(LIVER[0]) <= high + 1e-6)
    # the instrument's own colours: the tip part in TIP_COLOUR, the rest in SHAFT_COLOUR
    rgb = actor.GetMapper().GetInput().cell_data["rgb"] / 255.0
    found = {tuple(np.round(c, 2)) for c in rgb}
    assert found == {tuple(np.round(scene_items.TIP_COLOUR, 2)),
                     tuple(np.round(scene_items.SHAFT_COLOUR, 2))}
    # moving the needle changes the same actor's matrix only
    moved = dataclasses.replace(needle, pose_lps=needle.pose + np.pad(
        np.array([[5.0], [0.0], [-2.0]]), ((0, 1), (3, 0))))
    plan.instruments[needle.id] = moved
    mesh = actor.GetMapper().GetInput()
    scene.update_plan(plan)
    assert scene.instrument_actor(needle.id) is actor and actor.GetMapper().GetInput() is mesh
    np.testing.assert_allclose(pv.array_from_vtkmatrix(actor.GetMatrix()), moved.pose)


def test_the_selected_instrument_is_drawn_in_the_selection_colour(scene, catalogue, plotter):
    plan = Plan()
    for n, entry in enumerate(((-20.0, -89.0, 5.0), (-89.0, -10.0, 5.0)), start=1):
        needle = _needle(catalogue, f"needle-{n}", entry)
        plan.instruments[needle.id] = needle
    scene.show_plan(plan, catalogue)
    scene.select_instrument("needle-2")
    first, second = scene.instrument_actor("needle-1"), scene.instrument_actor("needle-2")
    assert first.GetMapper().GetScalarVisibility() and not second.GetMapper(
        ).GetScalarVisibility()
    np.testing.assert_allclose(second.GetProperty().GetColor(), scene_items.SELECTED_COLOUR)
    assert _has_colour(_picture(plotter), scene_items.SELECTED_COLOUR, minimum=5)


def test_plan_items_are_drawn_updated_and_removed(scene, catalogue, plotter):
    plan = Plan()
    on_skin = [np.array(d) / np.linalg.norm(d) * SKIN[1]
               for d in ((-1.0, -3.0, 0.5), (0.0, -3.0, 0.2), (1.0, -3.0, -0.2))]
    plan.incisions["cut-1"] = Incision("cut-1", "skin", tuple(map(tuple, on_skin)))
    plan.landmarks["lm-1"] = Landmark("lm-1", (1.0, 2.0, 3.0), "target")
    plan.measurements["m-1"] = Measurement("m-1", "point_point",
                                           ((0.0, 0.0, 0.0), (30.0, 40.0, 0.0)))
    scene.show_plan(plan, catalogue)
    drawn = scene.plan_layer.drawn
    assert set(drawn) == {("incisions", "cut-1"), ("landmarks", "lm-1"),
                          ("measurements", "m-1")}
    cut = drawn[("incisions", "cut-1")].actors[0].GetMapper().GetInput()
    radii = np.linalg.norm(np.asarray(cut.points), axis=1)
    assert cut.n_points > 3 and np.abs(radii - SKIN[1]).max() < 0.5  # a geodesic on the skin
    line = drawn[("measurements", "m-1")].actors[0].GetMapper().GetInput()
    np.testing.assert_allclose(line.points, [(0, 0, 0), (30, 40, 0)])
    label = drawn[("measurements", "m-1")].actors[2]
    labelled = label.GetMapper().GetInputAlgorithm().GetInputDataObject(0, 0)
    assert labelled.GetPointData().GetAbstractArray("labels").GetValue(0) == "50.0 mm"
    del plan.landmarks["lm-1"]
    scene.update_plan(plan)
    assert ("landmarks", "lm-1") not in drawn
    assert not any(name.startswith("landmark") for name in plotter.renderer.actors)


def test_highlight_colours_offenders_and_draws_segments_then_clears(scene):
    segments = np.array([[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]],
                         [[5.0, 5.0, 5.0], [5.0, 25.0, 5.0]]])
    scene.set_display("vessel", DisplaySettings(COLOURS["vessel"], opacity=0.3, visible=False))
    scene.highlight(["vessel", "no-such-structure"], segments)
    vessel = scene.actor("vessel")
    np.testing.assert_allclose(vessel.GetProperty().GetColor(), scene_items.HIGHLIGHT_COLOUR)
    assert vessel.visibility and vessel.prop.opacity >= 0.8
    np.testing.assert_allclose(scene._segments_actor.GetBounds(), (0, 10, 0, 25, 0, 5))
    scene.clear_highlight()
    np.testing.assert_allclose(vessel.GetProperty().GetColor(), COLOURS["vessel"], atol=1e-6)
    assert not vessel.visibility and vessel.prop.opacity == pytest.approx(0.3)
    assert "highlight:segments" not in scene.plotter.renderer.actors


def test_cameras_look_from_the_front_the_side_and_along_the_probe(scene, catalogue):
    camera = scene.plotter.renderer.GetActiveCamera()
    scene.view_anterior()
    np.testing.assert_allclose(camera.GetDirectionOfProjection(), (0, 1, 0), atol=1e-9)
    np.testing.assert_allclose(camera.GetViewUp(), (0, 0, 1), atol=1e-9)
    scene.view_lateral()
    np.testing.assert_allclose(camera.GetDirectionOfProjection(), (1, 0, 0), atol=1e-9)
    plan = Plan()
    needle = _needle(catalogue, entry=(-89.0, -40.0, 20.0))
    plan.instruments[needle.id] = needle
    scene.show_plan(plan, catalogue)
    scene.view_along(needle)
    np.testing.assert_allclose(camera.GetFocalPoint(), needle.tip_lps_mm, atol=1e-9)
    np.testing.assert_allclose(camera.GetDirectionOfProjection(), needle.axis, atol=1e-9)
    handle = needle.tip_lps_mm - catalogue.get(needle.instrument).working_length_mm * needle.axis
    np.testing.assert_allclose(camera.GetPosition(), handle, atol=1e-9)
    assert not scene.instrument_actor(needle.id).visibility  # its handle would fill the view
    scene.focus((1.0, 2.0, 3.0))
    np.testing.assert_allclose(camera.GetFocalPoint(), (1, 2, 3), atol=1e-9)
    np.testing.assert_allclose(camera.GetDirectionOfProjection(), needle.axis, atol=1e-9)
    scene.view_anterior()
    assert scene.instrument_actor(needle.id).visibility


def test_pick_at_the_projected_centre_of_a_sphere_lands_on_its_surface(scene, plotter):
    centre, radius = LIVER
    scene.set_display("skin", DisplaySettings(COLOURS["skin"], visible=False))
    scene.view_anterior()
    _picture(plotter)  # render once so the window has its size
    x, y = scene.display_point(centre)
    pick = scene.pick(x, y)
    assert pick is not None and pick.structure == "liver"
    assert abs(np.linalg.norm(pick.point_lps_mm - centre) - radius) < 1.0
    assert pick.point_lps_mm[1] < centre[1] - radius + 1.0  # the front (anterior) pole
    triangle = scene.twin.structures["liver"].surface.faces[pick.triangle]
    corners = scene.twin.structures["liver"].surface.vertices_lps_mm[triangle]
    assert np.linalg.norm(corners.mean(axis=0) - pick.point_lps_mm) < 3.0
    # the skin is picked first once shown, unless the pick is limited to the liver
    scene.set_display("skin", DisplaySettings(COLOURS["skin"], opacity=0.3))
    assert scene.pick(x, y).structure == "skin"
    assert scene.pick(x, y, structures={"liver"}).structure == "liver"
    # after a deformation the pick follows the moved surface
    rest = scene.twin.structures["liver"].surface.vertices_lps_mm
    scene.set_deformed("liver", rest + (0.0, -6.0, 0.0))
    moved = scene.pick(x, y, structures={"liver"})
    assert moved.point_lps_mm[1] == pytest.approx(pick.point_lps_mm[1] - 6.0, abs=0.5)
    assert scene.pick(2.0, 2.0) is None  # a corner shows only the background
