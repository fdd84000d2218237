"""The replay in the main 3D view: the instrument at the replayed pose, the tissue it deforms,
the planned trajectory beside the performed tip path; everything put back when it ends.

While a run is replayed its placement's own actor is hidden and a replay actor of the same
instrument is moved instead (so the plan's actor keeps the plan's pose); the structures the
replay deforms are given their rest vertices back when it ends.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.rehearsal.replay import PathComparison
from surgiplan.render import scene_items as items
from surgiplan.twin.twin import PatientTwin

PLANNED_COLOUR = (0.35, 0.60, 1.00)
"""The planned trajectory (entry -> target): blue."""
PERFORMED_COLOUR = (1.00, 0.45, 0.75)
"""The performed tip path: pink."""
LINE_WIDTH = 4.0
INSTRUMENT_ACTOR = "debrief:instrument"
PLANNED_ACTOR = "debrief:planned"
PERFORMED_ACTOR = "debrief:performed"


class ReplayScene:
    """Replay actors in a :class:`~surgiplan.ui.view3d.View3D` (see the module docstring)."""

    def __init__(self, view3d) -> None:
        self.view3d = view3d
        self.instrument_id: str | None = None
        self.instrument_actor: pv.Actor | None = None
        self.planned_actor: pv.Actor | None = None
        self.performed_actor: pv.Actor | None = None
        self.deformed: set[str] = set()

    @property
    def active(self) -> bool:
        return self.instrument_id is not None

    @property
    def plotter(self):
        return self.view3d.plotter

    def start(self, placement: InstrumentPlacement, catalogue: Catalogue,
              comparison: PathComparison) -> None:
        """Show the replay of ``placement``'s run: its instrument (at the plan's pose until
        :meth:`set_pose`), the planned line and the performed tip path."""
        self.instrument_id = placement.id
        plan_actor = self.view3d.scene.instrument_actor(placement.id)
        if plan_actor is not None:
            plan_actor.visibility = False
        if placement.instrument in catalogue:
            mesh = items.instrument_polydata(catalogue.get(placement.instrument))
            self.instrument_actor = self._add(items.instrument_actor(mesh, placement.pose),
                                              INSTRUMENT_ACTOR)
        self.planned_actor = self._line(comparison.planned_lps_mm, PLANNED_COLOUR,
                                        PLANNED_ACTOR)
        self.performed_actor = self._line(comparison.performed_lps_mm, PERFORMED_COLOUR,
                                          PERFORMED_ACTOR)
        self.view3d.render()

    def set_pose(self, pose: np.ndarray) -> None:
        """Put the replayed instrument at ``pose`` (4, 4), tip frame -> LPS mm."""
        if self.instrument_actor is not None:
            self.instrument_actor.SetUserMatrix(items.pose_matrix(pose))
            self.view3d.render()

    def set_deformed(self, twin: PatientTwin, deformed: dict[str, np.ndarray]) -> None:
        """Structures in ``deformed`` (name -> (n, 3) LPS mm) drawn there; those deformed
        before and not now back at rest. A structure whose surface changed since the run's
        frame was computed (rebuilt meanwhile: another vertex count) is left as drawn."""
        drawn = self.view3d.scene.structures
        for name in self.deformed - set(deformed):
            if name in twin.structures and name in drawn:
                self._draw(name, twin.structure(name).surface.vertices_lps_mm)
        self.deformed = {name for name, vertices in deformed.items()
                         if name in drawn and self._draw(name, vertices)}

    def _draw(self, name: str, vertices_lps_mm: np.ndarray) -> bool:
        if len(vertices_lps_mm) != self.view3d.scene.structures[name].polydata.n_points:
            return False
        self.view3d.set_deformed(name, vertices_lps_mm)
        return True

    def stop(self, twin: PatientTwin | None) -> None:
        """Remove the replay actors, show the plan's instrument again, put the structures the
        replay deformed back at rest."""
        for actor in (self.instrument_actor, self.planned_actor, self.performed_actor):
            if actor is not None:
                self.plotter.remove_actor(actor, reset_camera=False, render=False)
        self.instrument_actor = self.planned_actor = self.performed_actor = None
        if self.instrument_id is not None:
            plan_actor = self.view3d.scene.instrument_actor(self.instrument_id)
            if plan_actor is not None:
                plan_actor.visibility = True
        self.instrument_id = None
        if twin is not None:
            self.set_deformed(twin, {})
        self.deformed = set()
        self.view3d.render()

    def _add(self, actor: pv.Actor, name: str) -> pv.Actor:
        self.plotter.add_actor(actor, name=name, reset_camera=False, pickable=False,
                               render=False)
        return actor

    def _line(self, points_lps_mm: np.ndarray, colour, name: str) -> pv.Actor | None:
        points = np.asarray(points_lps_mm, dtype=np.float64).reshape(-1, 3)
        if len(points) < 2:
            return None
        return self._add(items.line_actor(points, colour, LINE_WIDTH), name)
