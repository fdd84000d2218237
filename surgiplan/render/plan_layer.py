"""The plan's actors in a pyvista plotter: incisions, instruments, landmarks, measurements.

:class:`PlanLayer` keeps, per plan item, the value it last drew and its actors, so that
:meth:`PlanLayer.update` redraws only what changed; an instrument that only moved keeps its
actor and gets a new user matrix (a few microseconds, no geometry rebuilt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyvista as pv

from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import (
    Incision,
    InstrumentPlacement,
    Landmark,
    Measurement,
    Plan,
)
from surgiplan.render import scene_items as items
from surgiplan.twin.twin import PatientTwin

LINE_WIDTH = 4.0
POINT_SIZE = 12.0
LABEL_FONT_SIZE = 14


@dataclass
class DrawnItem:
    """A plan item on screen: the value drawn and its actors (3D and 2D labels)."""

    value: Any
    actors: list[Any] = field(default_factory=list)


class PlanLayer:
    """Actors of one plan in ``plotter``; see the module docstring.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Any plotter (off-screen, or pyvistaqt's QtInteractor).
    twin : callable
        Returns the current twin (incisions are traced on, measurements computed on it).
    """

    def __init__(self, plotter: pv.Plotter, twin: Callable[[], PatientTwin | None]) -> None:
        self.plotter = plotter
        self._twin = twin
        self.catalogue: Catalogue | None = None
        self.selected: str | None = None
        self.drawn: dict[tuple[str, str], DrawnItem] = {}
        self._instrument_meshes: dict[str, pv.PolyData] = {}
        self._paths: dict[str, np.ndarray] = {}

    # ---- whole plan ---------------------------------------------------------------------
    def show(self, plan: Plan, catalogue: Catalogue,
             incision_paths: Mapping[str, np.ndarray] | None = None) -> None:
        """Draw ``plan`` from scratch with instruments from ``catalogue``."""
        self.clear()
        self.catalogue = catalogue
        self._instrument_meshes.clear()
        self._paths.clear()
        self.update(plan, incision_paths)

    def update(self, plan: Plan, incision_paths: Mapping[str, np.ndarray] | None = None
               ) -> None:
        """Redraw the items of ``plan`` that changed since the last call; drop removed ones.

        ``incision_paths`` (incision id -> (n, 3) LPS mm), when given, are the traced cuts to
        draw (e.g. :attr:`IncisionPath.path_lps_mm` from the plan check) instead of tracing
        them here; an incision given a new path is redrawn (the same path again is not).
        """
        for incision_id, path in (incision_paths or {}).items():
            path = np.asarray(path, dtype=np.float64).reshape(-1, 3)
            known = self._paths.get(incision_id)
            if known is not None and known.shape == path.shape and np.array_equal(known, path):
                continue
            self._paths[incision_id] = path
            self.remove_item("incisions", incision_id)
        wanted = {(name, item_id): item
                  for name in ("incisions", "instruments", "landmarks", "measurements")
                  for item_id, item in plan.collection(name).items()}
        for key in [key for key in self.drawn if key not in wanted]:
            self._remove(key)
        for key, item in wanted.items():
            self.update_item(key[0], item)

    def clear(self) -> None:
        for key in list(self.drawn):
            self._remove(key)

    # ---- one item -----------------------------------------------------------------------
    def update_item(self, collection: str, item: Any) -> None:
        """Draw or redraw one item (cheap when only an instrument's pose changed)."""
        key = (collection, item.id)
        drawn = self.drawn.get(key)
        if drawn is not None and drawn.value == item:
            return
        if (drawn is not None and collection == "instruments"
                and drawn.value.instrument == item.instrument and drawn.actors):
            drawn.actors[0].SetUserMatrix(items.pose_matrix(item.pose))
            drawn.value = item
            return
        if drawn is not None:
            self._remove(key)
        self.drawn[key] = DrawnItem(item, self._draw(collection, item))

    def remove_item(self, collection: str, item_id: str) -> None:
        if (collection, item_id) in self.drawn:
            self._remove((collection, item_id))

    def select(self, instrument_id: str | None) -> None:
        """Highlight the instrument placement ``instrument_id`` (``None``: none)."""
        self.selected = instrument_id
        for (collection, item_id), drawn in self.drawn.items():
            if collection == "instruments" and drawn.actors:
                items.set_instrument_selected(drawn.actors[0], item_id == instrument_id)

    def instrument_actor(self, instrument_id: str) -> pv.Actor | None:
        drawn = self.drawn.get(("instruments", instrument_id))
        return drawn.actors[0] if drawn and drawn.actors else None

    # ---- drawing ------------------------------------------------------------------------
    def _draw(self, collection: str, item: Any) -> list[Any]:
        if collection == "instruments":
            return self._draw_instrument(item)
        if collection == "incisions":
            return self._draw_incision(item)
        if collection == "landmarks":
            return self._draw_landmark(item)
        return self._draw_measurement(item)

    def _add(self, actor: Any, name: str) -> Any:
        self.plotter.add_actor(actor, name=name, reset_camera=False, pickable=False,
                               render=False)
        return actor

    def _draw_instrument(self, placement: InstrumentPlacement) -> list[Any]:
        if self.catalogue is None or placement.instrument not in self.catalogue:
            return []
        mesh = self._instrument_meshes.get(placement.instrument)
        if mesh is None:
            mesh = items.instrument_polydata(self.catalogue.get(placement.instrument))
            self._instrument_meshes[placement.instrument] = mesh
        actor = items.instrument_actor(mesh, placement.pose)
        items.set_instrument_selected(actor, placement.id == self.selected)
        return [self._add(actor, f"instrument:{placement.id}")]

    def _line_actor(self, points: np.ndarray, colour, name: str) -> Any:
        return self._add(items.line_actor(points, colour, LINE_WIDTH), name)

    def _points_actor(self, points: np.ndarray, colour, name: str) -> Any:
        actor = pv.Actor(mapper=pv.DataSetMapper(pv.PolyData(np.asarray(points, float))))
        actor.GetProperty().SetColor(*colour)
        actor.prop.point_size = POINT_SIZE
        actor.prop.render_points_as_spheres = True
        return self._add(actor, name)

    def _label(self, point: np.ndarray, text: str, name: str) -> Any:
        return self.plotter.add_point_labels(
            np.asarray(point, dtype=float).reshape(1, 3), [text], name=name,
            font_size=LABEL_FONT_SIZE, show_points=False, shape_opacity=0.5,
            always_visible=True, reset_camera=False, render=False)

    def _draw_incision(self, incision: Incision) -> list[Any]:
        path = self._paths.get(incision.id)
        points = path if path is not None else items.incision_points(incision, self._twin())
        return [self._line_actor(points, items.INCISION_COLOUR, f"incision:{incision.id}")]

    def _draw_landmark(self, landmark: Landmark) -> list[Any]:
        point = np.asarray(landmark.point_lps_mm, dtype=float)
        actors = [self._points_actor(point[None], items.LANDMARK_COLOUR,
                                     f"landmark:{landmark.id}")]
        actors.append(self._label(point, landmark.label or landmark.id,
                                  f"landmark-label:{landmark.id}"))
        return actors

    def _draw_measurement(self, measurement: Measurement) -> list[Any]:
        drawing = items.measurement_drawing(measurement, self._twin())
        if drawing is None:
            return []
        name = f"measurement:{measurement.id}"
        return [self._line_actor(drawing.points_lps_mm, items.MEASUREMENT_COLOUR, name),
                self._points_actor(drawing.points_lps_mm, items.MEASUREMENT_COLOUR,
                                   f"{name}:ends"),
                self._label(drawing.label_lps_mm, drawing.text, f"{name}:label")]

    def _remove(self, key: tuple[str, str]) -> None:
        drawn = self.drawn.pop(key)
        for actor in drawn.actors:
            self.plotter.remove_actor(actor, reset_camera=False, render=False)
