"""Off-screen pictures of the sample case: not blank, organs in their colours, PNG written
atomically, EGL used when there is no X display."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from surgiplan.errors import InputError
from surgiplan.render import scene_items
from surgiplan.render.offscreen import (
    BACKGROUND,
    ApproachCamera,
    OffscreenRenderer,
    render_picture,
    save_picture,
)
from surgiplan.twin.twin import DisplaySettings

SIZE = (320, 240)


@pytest.fixture(scope="module")
def sample_case():
    from surgiplan.case.case_file import load_case
    from surgiplan.sample_case import sample_case_file

    return load_case(sample_case_file())


def _share_of_colour(image: np.ndarray, colour, tolerance: float = 0.02) -> float:
    """Share of lit pixels with the chromaticity of ``colour`` (white lights keep it)."""
    pixels = image.reshape(-1, 3).astype(float)
    lit = pixels[pixels.sum(axis=1) > 60]
    chroma = lit / lit.sum(axis=1, keepdims=True)
    target = np.asarray(colour) / np.sum(colour)
    return float((np.abs(chroma - target).max(axis=1) < tolerance).mean())


def _background_share(image: np.ndarray) -> float:
    background = np.round(np.multiply(BACKGROUND, 255))
    return float((np.abs(image.astype(float) - background).max(axis=2) <= 2).mean())


def test_picture_of_the_sample_case_shows_its_organs_and_instruments(sample_case):
    image = render_picture(sample_case, "anterior", SIZE,
                           placement=sample_case.plan.instruments["needle-2"])
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
    assert 0.2 < _background_share(image) < 0.9  # the body fills part of the frame
    assert image.reshape(-1, 3).std(axis=0).min() > 10
    assert _share_of_colour(image, scene_items.SELECTED_COLOUR) > 0  # needle-2's hub, selected
    assert _share_of_colour(image, scene_items.SHAFT_COLOUR) > 0  # needle-1
    liver = sample_case.twin.display["liver"].colour
    hidden_skin = {"skin": DisplaySettings(sample_case.twin.display["skin"].colour,
                                           visible=False)}
    organs = render_picture(sample_case, "anterior", SIZE, display=hidden_skin,
                            show_plan=False)
    assert _share_of_colour(organs, liver) > 0.05
    opaque = render_picture(sample_case, "anterior", SIZE, see_through=(), show_plan=False)
    assert _share_of_colour(opaque, liver) < 0.001  # the opaque body outline hides the liver


def test_lateral_and_probe_views_differ_from_the_front_view(sample_case):
    needle = sample_case.plan.instruments["needle-1"]
    front = render_picture(sample_case, "anterior", SIZE, show_plan=False)
    side = render_picture(sample_case, "lateral", SIZE, show_plan=False)
    along = render_picture(sample_case, "along", SIZE, placement=needle)
    assert np.abs(front.astype(int) - side).mean() > 5
    assert _background_share(along) < 0.5  # looking into the patient along the needle
    with pytest.raises(InputError, match="along"):
        render_picture(sample_case, "along", SIZE)
    with pytest.raises(InputError, match="unknown view"):
        render_picture(sample_case, "sideways", SIZE)


def test_save_picture_writes_a_png_atomically(sample_case, tmp_path):
    path = save_picture(sample_case, tmp_path / "twin.png", "anterior", SIZE, show_plan=False)
    written = np.asarray(Image.open(path).convert("RGB"))
    assert written.shape == (SIZE[1], SIZE[0], 3) and _background_share(written) < 0.9
    before = path.read_bytes()
    with pytest.raises(InputError):
        save_picture(sample_case, path, "sideways", SIZE)
    assert path.read_bytes() == before  # the existing picture is left untouched
    assert [p.name for p in tmp_path.iterdir()] == ["twin.png"]  # no temporary left behind


CHILD = """
import json, sys
import numpy as np
from surgiplan.case.case_file import load_case
from surgiplan.render.offscreen import configure_offscreen, render_picture
from surgiplan.sample_case import sample_case_file
from surgiplan.twin.twin import DisplaySettings
case = load_case(sample_case_file())
skin = {"skin": DisplaySettings(case.twin.display["skin"].colour, visible=False)}
image = render_picture(case, "anterior", (160, 120), display=skin, show_plan=False)
np.save(sys.argv[1], image)
print(json.dumps({"window": configure_offscreen()}))
"""


def test_without_a_display_pictures_render_through_egl(sample_case, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "picture.npy")],
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"window": "vtkEGLRenderWindow"}
    image = np.load(tmp_path / "picture.npy")
    assert image.shape == (120, 160, 3)
    assert _share_of_colour(image, sample_case.twin.display["liver"].colour) > 0.05


# ---- one renderer, many pictures ----------------------------------------------------------
def _nearly_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, and at most 0.1 % of pixels more than 3 levels apart in any channel."""
    if a.shape != b.shape:
        return False
    return float((np.abs(a.astype(int) - b).max(axis=2) > 3).mean()) <= 0.001


def _hidden_skin(case) -> dict[str, DisplaySettings]:
    return {"skin": DisplaySettings(case.twin.display["skin"].colour, visible=False)}


def test_renderer_pictures_match_one_off_pictures(sample_case):
    needle_1 = sample_case.plan.instruments["needle-1"]
    needle_2 = sample_case.plan.instruments["needle-2"]
    approach = ApproachCamera((0.2, 0.9, 0.1), needle_1.tip_lps_mm, 150.0, (0.0, 0.0, 1.0))
    pictures = [("anterior", {"placement": needle_2}),
                ("lateral", {"display": _hidden_skin(sample_case), "highlight": ("liver",)}),
                ("along", {"placement": needle_1}),
                ("approach", {"approach": approach, "see_through": ()}),
                ("left", {})]
    with OffscreenRenderer(sample_case, SIZE) as renderer:
        shot = [renderer.picture(view, **options) for view, options in pictures]
    for (view, options), image in zip(pictures, shot, strict=True):
        alone = render_picture(sample_case, view, SIZE, **options)
        assert _nearly_equal(image, alone), view
    assert not _nearly_equal(shot[0], shot[4])  # the views do differ


def test_display_overrides_do_not_leak_into_the_next_picture(sample_case):
    liver = sample_case.twin.display["liver"].colour
    with OffscreenRenderer(sample_case, SIZE, show_plan=False) as renderer:
        first = renderer.picture("anterior", display=_hidden_skin(sample_case),
                                 highlight=("liver",))
        second = renderer.picture("anterior", see_through=())
        assert renderer.scene.display["skin"] == sample_case.twin.display["skin"]
    assert _share_of_colour(first, scene_items.HIGHLIGHT_COLOUR) > 0.02  # the liver, in red
    assert _share_of_colour(second, scene_items.HIGHLIGHT_COLOUR) < 0.001
    assert _share_of_colour(second, liver) < 0.001  # the skin is back, opaque
    alone = render_picture(sample_case, "anterior", SIZE, see_through=(), show_plan=False)
    assert _nearly_equal(second, alone)


def _marker_centre(image: np.ndarray, colour) -> tuple[float, float]:
    """(column, row) centroid of the pixels of exactly ``colour`` (0..1)."""
    target = np.round(np.multiply(colour, 255))
    rows, cols = np.nonzero(np.abs(image.astype(float) - target).max(axis=2) <= 2)
    assert len(rows) > 10, "marker not in the picture"
    return float(cols.mean()), float(rows.mean())


def test_approach_camera_centres_its_focus_head_up(sample_case):
    import pyvista as pv

    with OffscreenRenderer(sample_case, SIZE, show_plan=False) as renderer:
        bounds = renderer.scene.scene_bounds()
        # in front of the body, off its centre: the anterior view would not centre it
        focus = np.array([bounds[0] + 0.3 * (bounds[1] - bounds[0]), bounds[2] - 30.0,
                          bounds[4] + 0.7 * (bounds[5] - bounds[4])])
        for centre, colour in ((focus, (1.0, 0.0, 1.0)), (focus + (0, 0, 20.0), (0.0, 1.0, 1.0))):
            renderer.plotter.add_mesh(pv.Sphere(radius=2.0, center=centre), color=colour,
                                      lighting=False, reset_camera=False)
        camera = ApproachCamera((0.0, 1.0, 0.0), focus, 120.0, (0.0, 0.0, 1.0))
        image = renderer.picture("approach", approach=camera)
        x, y = renderer.scene.display_point(focus)
        renderer.picture("anterior")
        front_x, front_y = renderer.scene.display_point(focus)
    centre = ((SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2)
    assert abs(x - SIZE[0] / 2) < 0.5 and abs(y - SIZE[1] / 2) < 0.5
    column, row = _marker_centre(image, (1.0, 0.0, 1.0))
    assert abs(column - centre[0]) < 1.5 and abs(row - centre[1]) < 1.5
    above_column, above_row = _marker_centre(image, (0.0, 1.0, 1.0))
    assert abs(above_column - column) < 1.5 and above_row < row - 10  # superior is up
    assert abs(front_x - SIZE[0] / 2) > 10 or abs(front_y - SIZE[1] / 2) > 10


def test_approach_view_needs_a_valid_camera(sample_case):
    with pytest.raises(InputError, match="approach"):
        render_picture(sample_case, "approach", SIZE)
    with pytest.raises(InputError, match="up"):
        ApproachCamera((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), 100.0, (0.0, 0.0, 1.0))
    with pytest.raises(InputError, match="direction"):
        ApproachCamera((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 100.0)
    with pytest.raises(InputError, match="distance"):
        ApproachCamera((0.0, 1.0, 0.0), (0.0, 0.0, 0.0), 0.0)
    renderer = OffscreenRenderer(sample_case, (64, 48), show_plan=False)
    renderer.close()
    with pytest.raises(InputError, match="closed"):
        renderer.picture("anterior")
