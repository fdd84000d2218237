"""The 3D scene of a case in any pyvista plotter: twin surfaces, plan, highlights, picking.

World coordinates are patient LPS millimetres (x to the patient's left, y posterior, z
superior). :class:`TwinScene` owns its actors in the plotter it is given (an off-screen
``pyvista.Plotter`` or pyvistaqt's ``QtInteractor``); it never renders by itself: the caller
renders when it wants the picture updated (``plotter.render()``), so several changes cost one
render. Per-call costs are kept small because the app redraws on every instrument move:
moving an instrument changes its actor's user matrix only, a display change one actor's
properties, a deformation the points of one surface in place.

Examples
--------
>>> import pyvista as pv
>>> plotter = pv.Plotter(off_screen=True)  # doctest: +SKIP
>>> scene = TwinScene(plotter)  # doctest: +SKIP
>>> scene.show_twin(case.twin); scene.show_plan(case.plan, load_catalogue())  # doctest: +SKIP
>>> scene.view_anterior(); plotter.screenshot("twin.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pyvista as pv
import vtk

from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.render import scene_items as items
from surgiplan.render.plan_layer import PlanLayer
from surgiplan.twin.twin import DisplaySettings, PatientTwin

HIGHLIGHT_MIN_OPACITY = 0.8
"""An offending structure is drawn at least this opaque while highlighted."""
DEFAULT_REACH_MM = 150.0
"""Camera distance behind the tip in :meth:`TwinScene.view_along` when the instrument is
unknown (mm)."""


@dataclass(frozen=True)
class Pick:
    """A point picked on a structure surface.

    Attributes
    ----------
    point_lps_mm : (3,) float64 ndarray
        Where the view ray meets the surface, LPS mm.
    structure : str
        Name of the structure picked.
    triangle : int
        Index of the surface triangle hit (in the structure's :class:`SurfaceMesh` faces).
    """

    point_lps_mm: np.ndarray
    structure: str
    triangle: int


def _display_of(twin: PatientTwin, name: str) -> DisplaySettings:
    """The twin's display settings of ``name``, or its label colour, opaque and visible."""
    settings = twin.display.get(name)
    if settings is None:
        settings = DisplaySettings(colour=tuple(twin.structures[name].info.colour))
    return settings


class TwinScene:
    """The actors of a case in ``plotter`` (see the module docstring).

    Parameters
    ----------
    plotter : pyvista.Plotter
        The plotter to draw in; its active renderer is used.
    """

    def __init__(self, plotter: pv.Plotter) -> None:
        self.plotter = plotter
        self.twin: PatientTwin | None = None
        self.structures: dict[str, items.SurfaceActor] = {}
        self.display: dict[str, DisplaySettings] = {}
        self.plan_layer = PlanLayer(plotter, lambda: self.twin)
        self.highlighted: tuple[str, ...] = ()
        self._segments_actor: pv.Actor | None = None
        self._viewed_instrument: str | None = None
        self._picker = vtk.vtkCellPicker()
        self._picker.SetTolerance(0.0)
        self._picker.PickFromListOn()

    # ---- the twin -----------------------------------------------------------------------
    def show_twin(self, twin: PatientTwin, *, reset_camera: bool = True) -> None:
        """Replace the structures shown by those of ``twin``: one actor per surface, named
        ``structure:<name>``, coloured as the twin's :class:`DisplaySettings` say."""
        self.clear_twin()
        self.twin = twin
        for name, model in twin.structures.items():
            drawn = items.surface_actor(model.surface)
            self.plotter.add_actor(drawn.actor, name=f"structure:{name}", reset_camera=False,
                                   pickable=True, render=False)
            self.structures[name] = drawn
            self.set_display(name, _display_of(twin, name))
        if reset_camera:
            self.view_anterior()

    def clear_twin(self) -> None:
        """Remove every structure actor and highlight."""
        self.clear_highlight()
        for drawn in self.structures.values():
            self.plotter.remove_actor(drawn.actor, reset_camera=False, render=False)
        self.structures.clear()
        self.display.clear()
        self.twin = None

    def actor(self, name: str) -> pv.Actor:
        """The actor of structure ``name`` (KeyError if not shown)."""
        return self.structures[name].actor

    def set_display(self, name: str, settings: DisplaySettings) -> None:
        """Apply colour (RGB 0..1), opacity and visibility to one structure's actor."""
        drawn = self.structures[name]
        self.display[name] = settings
        drawn.actor.GetProperty().SetColor(*(float(c) for c in settings.colour))
        drawn.actor.prop.opacity = float(settings.opacity)
        if drawn.actor.visibility != bool(settings.visible):
            drawn.actor.visibility = bool(settings.visible)
            self.plotter.renderer.ResetCameraClippingRange()
        if name in self.highlighted:
            self._emphasise(name)

    def set_deformed(self, name: str, vertices_lps_mm: np.ndarray) -> None:
        """Move structure ``name``'s vertices to ``vertices_lps_mm`` (n, 3), LPS mm, in place.

        ``n`` is the vertex count of the structure's surface; pass the rest vertices
        (:attr:`SurfaceMesh.vertices_lps_mm`) to undo a deformation. Normals are recomputed at
        the next render.
        """
        self.structures[name].set_points(vertices_lps_mm)

    # ---- the plan -----------------------------------------------------------------------
    def show_plan(self, plan: Plan, catalogue: Catalogue,
                  incision_paths: Mapping[str, np.ndarray] | None = None) -> None:
        """Draw every item of ``plan`` (instruments from ``catalogue``), replacing any shown.

        Incisions are drawn along ``incision_paths`` (id -> (n, 3) LPS mm) when given, else
        traced on their structure's surface here (the first trace on a large skin surface
        prepares its geodesic solver: seconds; later ones reuse it).
        """
        self.plan_layer.show(plan, catalogue, incision_paths)

    def update_plan(self, plan: Plan,
                    incision_paths: Mapping[str, np.ndarray] | None = None) -> None:
        """Redraw only the plan items that changed since the last call (a moved instrument
        gets a new transform, nothing else is rebuilt)."""
        self.plan_layer.update(plan, incision_paths)

    def select_instrument(self, instrument_id: str | None) -> None:
        """Draw placement ``instrument_id`` in the selection colour (``None``: no selection)."""
        self.plan_layer.select(instrument_id)

    def instrument_actor(self, instrument_id: str) -> pv.Actor | None:
        """The actor of placement ``instrument_id``, or ``None`` if not drawn."""
        return self.plan_layer.instrument_actor(instrument_id)

    # ---- highlights ---------------------------------------------------------------------
    def highlight(self, structures: tuple[str, ...] | list[str] = (),
                  segments_lps_mm: np.ndarray | None = None) -> None:
        """Emphasise offending ``structures`` and draw closest-point segments.

        Parameters
        ----------
        structures : sequence of str
            Structures drawn in :data:`~surgiplan.render.scene_items.HIGHLIGHT_COLOUR`,
            visible and at least :data:`HIGHLIGHT_MIN_OPACITY` opaque; unknown names are
            ignored.
        segments_lps_mm : (N, 2, 3) float array, optional
            Segments (e.g. instrument -> structure closest points), LPS mm.
        """
        self.clear_highlight()
        self.highlighted = tuple(name for name in structures if name in self.structures)
        for name in self.highlighted:
            self._emphasise(name)
        if segments_lps_mm is not None and np.size(segments_lps_mm):
            actor = pv.Actor(mapper=pv.DataSetMapper(items.segments_polydata(segments_lps_mm)))
            actor.GetProperty().SetColor(*items.HIGHLIGHT_COLOUR)
            actor.prop.line_width = 5.0
            actor.prop.render_lines_as_tubes = True
            actor.prop.lighting = False
            self.plotter.add_actor(actor, name="highlight:segments", reset_camera=False,
                                   pickable=False, render=False)
            self._segments_actor = actor

    def clear_highlight(self) -> None:
        """Give highlighted structures back their display settings; remove the segments."""
        names, self.highlighted = self.highlighted, ()
        for name in names:
            if name in self.structures:
                self.set_display(name, self.display[name])
        if self._segments_actor is not None:
            self.plotter.remove_actor(self._segments_actor, reset_camera=False, render=False)
            self._segments_actor = None

    def _emphasise(self, name: str) -> None:
        prop = self.structures[name].actor.prop
        prop.SetColor(*items.HIGHLIGHT_COLOUR)
        prop.opacity = max(HIGHLIGHT_MIN_OPACITY, float(self.display[name].opacity))
        self.structures[name].actor.visibility = True

    # ---- picking ------------------------------------------------------------------------
    def pick(self, display_x: float, display_y: float, *,
             structures: Collection[str] | None = None,
             min_opacity: float = 0.0) -> Pick | None:
        """The structure surface point under a display pixel, or ``None``.

        Parameters
        ----------
        display_x, display_y : float
            VTK display coordinates of the render window (pixels, origin at the bottom
            left; a Qt widget's y must be flipped: ``height - 1 - y``).
        structures : collection of str, optional
            Only these structures can be picked (e.g. ``{"skin"}`` for an incision); all
            visible ones by default.
        min_opacity : float
            Structures drawn more transparent than this are seen through, not picked (e.g.
            0.5 to reach the organs inside a translucent body outline).

        Returns
        -------
        Pick or None
            The nearest pickable structure surface along the view ray.
        """
        renderer = self.plotter.renderer
        renderer.ResetCameraClippingRange()  # visibility may have changed since the last fit
        self._picker.RemoveAllLocators()
        self._picker.InitializePickList()
        for name, drawn in self.structures.items():
            if (drawn.actor.visibility and (structures is None or name in structures)
                    and drawn.actor.GetProperty().GetOpacity() >= min_opacity):
                self._picker.AddPickList(drawn.actor)
                self._picker.AddLocator(drawn.picking_locator())
        if not self._picker.Pick(float(display_x), float(display_y), 0.0, renderer):
            return None
        hit = self._picker.GetActor()
        name = next((n for n, d in self.structures.items() if d.actor is hit), None)
        if name is None:
            return None
        point = np.array(self._picker.GetPickPosition(), dtype=np.float64)
        return Pick(point, name, int(self._picker.GetCellId()))

    def display_point(self, point_lps_mm) -> tuple[float, float]:
        """VTK display coordinates (pixels, origin bottom left) of a world point (LPS mm)."""
        renderer = self.plotter.renderer
        renderer.SetWorldPoint(*np.asarray(point_lps_mm, dtype=float), 1.0)
        renderer.WorldToDisplay()
        x, y, _ = renderer.GetDisplayPoint()
        return float(x), float(y)

    # ---- camera -------------------------------------------------------------------------
    def scene_bounds(self) -> tuple[float, ...]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) of the visible structures (LPS mm)."""
        shown = [d.actor.GetBounds() for d in self.structures.values() if d.actor.visibility]
        if not shown:
            return tuple(self.plotter.renderer.ComputeVisiblePropBounds())
        array = np.array(shown)
        return (array[:, 0].min(), array[:, 1].max(), array[:, 2].min(), array[:, 3].max(),
                array[:, 4].min(), array[:, 5].max())

    def _look(self, direction, up) -> None:
        """Camera looking along ``direction`` (from the camera to the scene), fitted."""
        self._show_viewed_instrument()
        bounds = self.scene_bounds()
        centre = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                           (bounds[4] + bounds[5]) / 2])
        camera = self.plotter.renderer.GetActiveCamera()
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - np.asarray(direction, dtype=float)))
        camera.SetViewUp(*up)
        self.plotter.renderer.ResetCamera(bounds)
        self._camera_set()

    def view_anterior(self) -> None:
        """Look at the patient's front (camera anterior, looking posterior, head up)."""
        self._look((0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

    def view_lateral(self, side: str = "right") -> None:
        """Look at the patient's ``"right"`` (default) or ``"left"`` side, head up."""
        sign = 1.0 if side == "right" else -1.0
        self._look((sign, 0.0, 0.0), (0.0, 0.0, 1.0))

    def view_along(self, placement: InstrumentPlacement) -> None:
        """Probe's-eye view: the camera at the instrument's handle end, looking along its
        shaft axis at the tip (the instrument's y axis up).

        The instrument looked along is hidden (its handle would fill the view) until another
        view is chosen.
        """
        self._show_viewed_instrument()
        actor = self.plan_layer.instrument_actor(placement.id)
        if actor is not None:
            actor.visibility = False
            self._viewed_instrument = placement.id
        reach = DEFAULT_REACH_MM
        catalogue = self.plan_layer.catalogue
        if catalogue is not None and placement.instrument in catalogue:
            reach = catalogue.get(placement.instrument).working_length_mm
        pose = placement.pose
        tip, axis = pose[:3, 3], pose[:3, 2]
        camera = self.plotter.renderer.GetActiveCamera()
        camera.SetFocalPoint(*tip)
        camera.SetPosition(*(tip - reach * axis))
        camera.SetViewUp(*pose[:3, 1])
        self.plotter.renderer.ResetCameraClippingRange()
        self._camera_set()

    def view_from(self, direction, focus_lps_mm, distance_mm: float, up) -> None:
        """Look along ``direction`` at ``focus_lps_mm`` from ``distance_mm`` away.

        Parameters
        ----------
        direction : (3,) float array
            Viewing direction, from the camera towards the focus (LPS; normalised here).
        focus_lps_mm : (3,) float array
            Point looked at, drawn at the picture's centre (LPS mm).
        distance_mm : float
            Camera distance from the focus (mm, > 0).
        up : (3,) float array
            Up on the picture (LPS); its part along ``direction`` is dropped.

        Raises
        ------
        ValueError
            ``direction`` is zero, ``distance_mm`` not positive, or ``up`` along
            ``direction``.
        """
        axis = np.asarray(direction, dtype=float).reshape(3)
        norm = float(np.linalg.norm(axis))
        if not np.isfinite(norm) or norm < 1e-12:
            raise ValueError(f"view direction must be a non-zero vector, got {direction!r}")
        axis = axis / norm
        head = np.asarray(up, dtype=float).reshape(3)
        head = head - (head @ axis) * axis
        if not np.isfinite(head).all() or np.linalg.norm(head) < 1e-9:
            raise ValueError(f"up {up!r} must not lie along the view direction {direction!r}")
        if not float(distance_mm) > 0:
            raise ValueError(f"camera distance must be positive (mm), got {distance_mm!r}")
        self._show_viewed_instrument()
        point = np.asarray(focus_lps_mm, dtype=float).reshape(3)
        camera = self.plotter.renderer.GetActiveCamera()
        camera.SetFocalPoint(*point)
        camera.SetPosition(*(point - float(distance_mm) * axis))
        camera.SetViewUp(*(head / np.linalg.norm(head)))
        self.plotter.renderer.ResetCameraClippingRange()
        self._camera_set()

    def focus(self, point_lps_mm) -> None:
        """Turn about ``point_lps_mm`` (LPS mm): same direction and distance, new centre."""
        camera = self.plotter.renderer.GetActiveCamera()
        point = np.asarray(point_lps_mm, dtype=float)
        offset = np.asarray(camera.GetPosition()) - np.asarray(camera.GetFocalPoint())
        camera.SetFocalPoint(*point)
        camera.SetPosition(*(point + offset))
        self.plotter.renderer.ResetCameraClippingRange()
        self._camera_set()

    def _show_viewed_instrument(self) -> None:
        if self._viewed_instrument is not None:
            actor = self.plan_layer.instrument_actor(self._viewed_instrument)
            if actor is not None:
                actor.visibility = True
            self._viewed_instrument = None

    def _camera_set(self) -> None:
        """Tell pyvista the camera is placed (else its first render resets it to isometric)."""
        self.plotter.renderer.camera_set = True
