"""Off-screen pictures of a case (no Qt, no window): for reports, the command line and tests.

With no X display, VTK renders through EGL (``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow``,
set here before the first render window is made when ``libEGL`` is present; forcing a backend
that is not installed would crash instead of falling back). With a display (a desktop, or Xvfb
under the GUI tests) VTK's default X window is used, off-screen, so a process that also shows
a Qt 3D view keeps one OpenGL backend.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyvista as pv

from surgiplan.case.model import Case
from surgiplan.errors import InputError
from surgiplan.io.atomic import atomic_path
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.render.scene import TwinScene
from surgiplan.twin.twin import DisplaySettings

VIEWS = ("anterior", "lateral", "right", "left", "along")
"""``lateral`` is the patient's right side; ``along`` needs ``placement``."""
BACKGROUND = (0.08, 0.09, 0.11)
SEE_THROUGH_OPACITY = 0.25
"""Opacity of the ``see_through`` structures (the body outline), so the organs show."""


def configure_offscreen() -> str:
    """Choose the OpenGL window VTK makes next; return its class name (or ``"default"``).

    EGL when there is no X display and libEGL is installed, unless the environment already
    names a window class; VTK's default otherwise.
    """
    chosen = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    if chosen:
        return chosen
    if not os.environ.get("DISPLAY") and ctypes.util.find_library("EGL"):
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
        return "vtkEGLRenderWindow"
    return "default"


def _apply_view(scene: TwinScene, view: str, placement: InstrumentPlacement | None) -> None:
    if view == "anterior":
        scene.view_anterior()
    elif view in ("lateral", "right", "left"):
        scene.view_lateral("left" if view == "left" else "right")
    elif view == "along":
        if placement is None:
            raise InputError("the 'along' view needs the instrument placement to look along")
        scene.view_along(placement)
    else:
        raise InputError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise InputError(f"picture size must be 1..8192 pixels each way, got {size!r}")
    return width, height


def render_picture(case: Case, view: str = "anterior", size: tuple[int, int] = (800, 600), *,
                   catalogue: Catalogue | None = None, show_plan: bool = True,
                   placement: InstrumentPlacement | None = None,
                   see_through: Sequence[str] = ("skin",),
                   display: Mapping[str, DisplaySettings] | None = None,
                   highlight: Sequence[str] = (), segments_lps_mm: np.ndarray | None = None,
                   incision_paths: Mapping[str, np.ndarray] | None = None,
                   background: tuple[float, float, float] = BACKGROUND) -> np.ndarray:
    """Render the case's twin (and plan) off-screen.

    Parameters
    ----------
    case : Case
        Its twin's structures are drawn with the twin's display settings.
    view : {"anterior", "lateral", "right", "left", "along"}
        Camera: from the patient's front, right side (``lateral``), left side, or along
        ``placement``'s shaft from its handle (probe's eye).
    size : (width, height)
        Picture size in pixels.
    catalogue : Catalogue, optional
        Instrument shapes; the shipped catalogue when omitted.
    show_plan : bool
        Draw incisions, instruments, landmarks and measurements.
    placement : InstrumentPlacement, optional
        Selected (highlighted) instrument, and the one the ``along`` view looks along.
    see_through : sequence of str
        Structures drawn at :data:`SEE_THROUGH_OPACITY` so the organs inside show (the body
        outline by default); ``()`` keeps the display settings as they are.
    display : mapping of str to DisplaySettings, optional
        Per-structure settings overriding the twin's (and ``see_through``).
    highlight : sequence of str
        Offending structures to emphasise; ``segments_lps_mm`` (N, 2, 3) closest-point
        segments (LPS mm) to draw with them.
    incision_paths : mapping, optional
        Traced cuts (incision id -> (n, 3) LPS mm) to draw instead of tracing them here.
    background : (r, g, b)
        Background colour in 0..1.

    Returns
    -------
    (height, width, 3) uint8 ndarray
        The picture, row 0 at the top.
    """
    width, height = _check_size(size)
    configure_offscreen()
    plotter = pv.Plotter(off_screen=True, window_size=(width, height))
    try:
        plotter.render_window.SetMultiSamples(0)  # 8x antialiasing is 3x slower in software
        plotter.background_color = background
        scene = TwinScene(plotter)
        scene.show_twin(case.twin, reset_camera=False)
        for name in see_through:
            if name in scene.display:
                settings = scene.display[name]
                scene.set_display(name, DisplaySettings(settings.colour, SEE_THROUGH_OPACITY,
                                                        settings.visible))
        for name, settings in (display or {}).items():
            if name in scene.structures:
                scene.set_display(name, settings)
        if show_plan:
            scene.show_plan(case.plan, catalogue or load_catalogue(), incision_paths)
            scene.select_instrument(placement.id if placement is not None else None)
        scene.highlight(tuple(highlight), segments_lps_mm)
        _apply_view(scene, view, placement)
        image = plotter.screenshot(return_img=True)
    finally:
        plotter.close()
    return np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)


def write_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an (h, w, 3) uint8 picture as PNG atomically; return the path."""
    from PIL import Image

    target = Path(path)
    with atomic_path(target) as temporary:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(temporary, format="PNG")
    return target


def save_picture(case: Case, path: str | os.PathLike[str], view: str = "anterior",
                 size: tuple[int, int] = (800, 600), **options) -> Path:
    """:func:`render_picture` written to ``path`` as PNG, atomically (an existing file is
    replaced only once the new one is complete); returns the path. ``options`` are those of
    :func:`render_picture`."""
    return write_png(render_picture(case, view, size, **options), path)
