"""Off-screen pictures of a case (no Qt, no window): for reports, the command line and tests.

With no X display, VTK renders through EGL (``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow``,
set here before the first render window is made when ``libEGL`` is present; forcing a backend
that is not installed would crash instead of falling back). With a display (a desktop, or Xvfb
under the GUI tests) VTK's default X window is used, off-screen, so a process that also shows
a Qt 3D view keeps one OpenGL backend.

:class:`OffscreenRenderer` builds the scene of a case once (one plotter, every surface and
plan item) and takes many pictures of it, changing per picture only the camera, the display
settings, the highlight and the selected instrument; :func:`render_picture` is a renderer
used for one picture.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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

VIEWS = ("anterior", "lateral", "right", "left", "along", "approach")
"""``lateral`` is the patient's right side; ``along`` needs ``placement``, ``approach`` an
:class:`ApproachCamera`."""
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


@dataclass(frozen=True, eq=False)
class ApproachCamera:
    """A camera looking along a direction at a point: the ``"approach"`` view.

    Attributes
    ----------
    direction : (3,) float64 ndarray
        Unit viewing direction, from the camera towards the focus (LPS).
    focus_lps_mm : (3,) float64 ndarray
        Point looked at, at the picture's centre (LPS mm).
    distance_mm : float
        Camera distance from the focus (mm).
    up : (3,) float64 ndarray
        Unit vector drawn upwards on the picture, normal to ``direction`` (LPS).

    Raises
    ------
    InputError
        A zero or non-finite vector, a distance that is not positive, or ``up`` along
        ``direction``.
    """

    direction: np.ndarray
    focus_lps_mm: np.ndarray
    distance_mm: float
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))

    def __post_init__(self) -> None:
        axis = np.asarray(self.direction, dtype=np.float64).reshape(3)
        focus = np.asarray(self.focus_lps_mm, dtype=np.float64).reshape(3)
        up = np.asarray(self.up, dtype=np.float64).reshape(3)
        if not (np.isfinite(axis).all() and np.linalg.norm(axis) > 1e-12):
            raise InputError(f"approach direction must be a non-zero vector, got {axis}")
        axis = axis / np.linalg.norm(axis)
        up = up - (up @ axis) * axis
        if not (np.isfinite(up).all() and np.linalg.norm(up) > 1e-9):
            raise InputError("approach camera: 'up' must not lie along the view direction")
        if not (np.isfinite(focus).all() and float(self.distance_mm) > 0):
            raise InputError("approach camera: give a finite focus and a positive distance")
        object.__setattr__(self, "direction", axis)
        object.__setattr__(self, "focus_lps_mm", focus)
        object.__setattr__(self, "up", up / np.linalg.norm(up))
        object.__setattr__(self, "distance_mm", float(self.distance_mm))


def _check_view(view: str, placement: InstrumentPlacement | None,
                approach: ApproachCamera | None) -> None:
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
    if view == "along" and placement is None:
        raise InputError("the 'along' view needs the instrument placement to look along")
    if view == "approach" and approach is None:
        raise InputError("the 'approach' view needs an ApproachCamera (direction, focus, "
                         "distance)")


def _apply_view(scene: TwinScene, view: str, placement: InstrumentPlacement | None,
                approach: ApproachCamera | None) -> None:
    if view == "anterior":
        scene.view_anterior()
    elif view in ("lateral", "right", "left"):
        scene.view_lateral("left" if view == "left" else "right")
    elif view == "along" and placement is not None:
        scene.view_along(placement)
    elif view == "approach" and approach is not None:
        scene.view_from(approach.direction, approach.focus_lps_mm, approach.distance_mm,
                        approach.up)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise InputError(f"picture size must be 1..8192 pixels each way, got {size!r}")
    return width, height


def _same(a: DisplaySettings, b: DisplaySettings) -> bool:
    return (tuple(float(c) for c in a.colour) == tuple(float(c) for c in b.colour)
            and float(a.opacity) == float(b.opacity) and bool(a.visible) == bool(b.visible))


class OffscreenRenderer:
    """One off-screen plotter holding a case's twin and plan, pictured from many views.

    The scene (every structure surface, the plan's actors) is built once; each
    :meth:`picture` changes only what differs from the previous one (display settings, the
    highlight, the selected instrument, the camera) and renders. Use it as a context
    manager, or call :meth:`close`.

    Parameters
    ----------
    case : Case
        Its twin's structures are drawn with the twin's display settings.
    size : (width, height)
        Picture size in pixels (1..8192 each).
    catalogue : Catalogue, optional
        Instrument shapes; the shipped catalogue when omitted.
    show_plan : bool
        Draw incisions, instruments, landmarks and measurements.
    incision_paths : mapping, optional
        Traced cuts (incision id -> (n, 3) LPS mm) to draw instead of tracing them here.
    background : (r, g, b)
        Background colour in 0..1.

    Examples
    --------
    >>> with OffscreenRenderer(case, (800, 600)) as renderer:  # doctest: +SKIP
    ...     front = renderer.picture("anterior")
    ...     side = renderer.picture("lateral", see_through=())
    """

    def __init__(self, case: Case, size: tuple[int, int] = (800, 600), *,
                 catalogue: Catalogue | None = None, show_plan: bool = True,
                 incision_paths: Mapping[str, np.ndarray] | None = None,
                 background: tuple[float, float, float] = BACKGROUND) -> None:
        width, height = _check_size(size)
        configure_offscreen()
        self.plotter: pv.Plotter | None = pv.Plotter(off_screen=True,
                                                     window_size=(width, height))
        self.show_plan = show_plan
        try:
            self.plotter.render_window.SetMultiSamples(0)  # 8x antialiasing: 3x slower
            self.plotter.background_color = background
            self.scene = TwinScene(self.plotter)
            self.scene.show_twin(case.twin, reset_camera=False)
            self.twin_display = dict(self.scene.display)
            if show_plan:
                self.scene.show_plan(case.plan, catalogue or load_catalogue(), incision_paths)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> OffscreenRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the plotter and its OpenGL context (idempotent)."""
        if self.plotter is not None:
            self.plotter.close()
            self.plotter = None

    def picture(self, view: str = "anterior", *,
                placement: InstrumentPlacement | None = None,
                approach: ApproachCamera | None = None,
                see_through: Sequence[str] = ("skin",),
                display: Mapping[str, DisplaySettings] | None = None,
                highlight: Sequence[str] = (),
                segments_lps_mm: np.ndarray | None = None) -> np.ndarray:
        """Render the scene from one view with this picture's display options.

        Parameters
        ----------
        view : {"anterior", "lateral", "right", "left", "along", "approach"}
            Camera: from the patient's front, right side (``lateral``), left side, along
            ``placement``'s shaft from its handle (probe's eye), or ``approach``.
        placement : InstrumentPlacement, optional
            Selected (highlighted) instrument, and the one the ``along`` view looks along.
        approach : ApproachCamera, optional
            The camera of the ``approach`` view.
        see_through : sequence of str
            Structures drawn at :data:`SEE_THROUGH_OPACITY` so the organs inside show;
            ``()`` keeps the twin's display settings.
        display : mapping of str to DisplaySettings, optional
            Per-structure settings overriding the twin's (and ``see_through``) for this
            picture only: the next picture starts again from the twin's settings.
        highlight : sequence of str
            Offending structures to emphasise; ``segments_lps_mm`` (N, 2, 3) closest-point
            segments (LPS mm) to draw with them.

        Returns
        -------
        (height, width, 3) uint8 ndarray
            The picture, row 0 at the top.

        Raises
        ------
        InputError
            An unknown view, ``along`` without ``placement``, ``approach`` without
            ``approach``, or a closed renderer.
        """
        _check_view(view, placement, approach)
        if self.plotter is None:
            raise InputError("this off-screen renderer is closed: open a new one")
        self.scene.clear_highlight()
        for name, settings in self._wanted_display(see_through, display).items():
            if not _same(self.scene.display[name], settings):
                self.scene.set_display(name, settings)
        if self.show_plan:
            self.scene.select_instrument(placement.id if placement is not None else None)
        self.scene.highlight(tuple(highlight), segments_lps_mm)
        _apply_view(self.scene, view, placement, approach)
        self.plotter.render()  # pyvista's screenshot renders by itself the first time only
        image = self.plotter.screenshot(return_img=True)
        return np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)

    def _wanted_display(self, see_through: Sequence[str],
                        display: Mapping[str, DisplaySettings] | None
                        ) -> dict[str, DisplaySettings]:
        """The twin's settings, ``see_through`` structures translucent, then ``display``."""
        wanted = dict(self.twin_display)
        for name in see_through:
            if name in wanted:
                settings = wanted[name]
                wanted[name] = DisplaySettings(settings.colour, SEE_THROUGH_OPACITY,
                                               settings.visible)
        for name, settings in (display or {}).items():
            if name in wanted:
                wanted[name] = settings
        return wanted


def render_picture(case: Case, view: str = "anterior", size: tuple[int, int] = (800, 600), *,
                   catalogue: Catalogue | None = None, show_plan: bool = True,
                   placement: InstrumentPlacement | None = None,
                   see_through: Sequence[str] = ("skin",),
                   display: Mapping[str, DisplaySettings] | None = None,
                   highlight: Sequence[str] = (), segments_lps_mm: np.ndarray | None = None,
                   incision_paths: Mapping[str, np.ndarray] | None = None,
                   background: tuple[float, float, float] = BACKGROUND,
                   approach: ApproachCamera | None = None) -> np.ndarray:
    """Render the case's twin (and plan) off-screen: one picture.

    A one-picture :class:`OffscreenRenderer`; for several views of a case, open one renderer
    and call its :meth:`~OffscreenRenderer.picture` per view (the scene is built once).

    Parameters
    ----------
    case : Case
        Its twin's structures are drawn with the twin's display settings.
    view : {"anterior", "lateral", "right", "left", "along", "approach"}
        Camera: from the patient's front, right side (``lateral``), left side, along
        ``placement``'s shaft from its handle (probe's eye), or ``approach``.
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
    approach : ApproachCamera, optional
        The camera of the ``approach`` view.

    Returns
    -------
    (height, width, 3) uint8 ndarray
        The picture, row 0 at the top.
    """
    _check_view(view, placement, approach)
    with OffscreenRenderer(case, size, catalogue=catalogue, show_plan=show_plan,
                           incision_paths=incision_paths, background=background) as renderer:
        return renderer.picture(view, placement=placement, approach=approach,
                                see_through=see_through, display=display,
                                highlight=highlight, segments_lps_mm=segments_lps_mm)


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
