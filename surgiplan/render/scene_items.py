"""VTK geometry of the twin and the plan for :class:`~surgiplan.render.scene.TwinScene` (no Qt).

Everything here is in patient LPS millimetres, except instrument meshes, which are built once
in the instrument's tip frame and placed by their actor's user matrix (the placement pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
import vtk

from surgiplan.plan.catalogue import Instrument
from surgiplan.plan.incision import trace_incision
from surgiplan.plan.measure import measure
from surgiplan.plan.model import Incision, Measurement
from surgiplan.simulation.instrument_geometry import instrument_geometry
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.twin import PatientTwin

SHAFT_COLOUR = (0.20, 0.80, 1.00)
"""Instrument shafts, handles and hubs: a cyan no tissue has."""
TIP_COLOUR = (1.00, 0.50, 0.05)
"""The part of an instrument holding its tip."""
SELECTED_COLOUR = (1.00, 0.95, 0.10)
"""The selected instrument, whole."""
INCISION_COLOUR = (0.10, 0.90, 0.20)
LANDMARK_COLOUR = (0.95, 0.20, 0.90)
MEASUREMENT_COLOUR = (1.00, 1.00, 1.00)
HIGHLIGHT_COLOUR = (1.00, 0.10, 0.10)
"""Structures an instrument offends, and the closest-point segments."""


@dataclass
class SurfaceActor:
    """A structure surface on screen: its data, the normals filter and the actor.

    Attributes
    ----------
    polydata : pv.PolyData
        The surface (points (n, 3) LPS mm, triangles); moved in place by deformation.
    normals : vtk.vtkPolyDataNormals
        Smooth point normals recomputed lazily when the points change.
    actor : pv.Actor
        Drawn in world = LPS mm (identity user matrix).
    """

    polydata: pv.PolyData
    normals: vtk.vtkPolyDataNormals
    actor: pv.Actor
    locator: vtk.vtkStaticCellLocator | None = None
    _located_mtime: int = -1

    def picking_locator(self) -> vtk.vtkStaticCellLocator:
        """A cell locator of the drawn surface, (re)built when its points changed."""
        self.normals.Update()
        output = self.normals.GetOutput()
        if self.locator is None:
            self.locator = vtk.vtkStaticCellLocator()
            self.locator.SetDataSet(output)
        if self._located_mtime != output.GetMTime():
            self.locator.ForceBuildLocator()
            self._located_mtime = output.GetMTime()
        return self.locator

    def set_points(self, vertices_lps_mm: np.ndarray) -> None:
        """Replace the vertex positions (n, 3) in place (same topology)."""
        vertices = np.asarray(vertices_lps_mm, dtype=np.float64).reshape(-1, 3)
        if len(vertices) != self.polydata.n_points:
            raise ValueError(f"expected {self.polydata.n_points} vertices, got {len(vertices)}")
        self.polydata.points[:] = vertices
        self.polydata.GetPoints().Modified()
        self.polydata.Modified()


def surface_polydata(surface: SurfaceMesh) -> pv.PolyData:
    """A :class:`SurfaceMesh` as triangles (vertices copied, LPS mm)."""
    return pv.PolyData.from_regular_faces(surface.vertices_lps_mm.copy(), surface.faces)


def surface_actor(surface: SurfaceMesh) -> SurfaceActor:
    """An actor drawing ``surface`` with smooth normals (no vertex splitting, so the picked
    cell ids are the surface's triangle indices)."""
    polydata = surface_polydata(surface)
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputData(polydata)
    normals.SplittingOff()
    normals.ConsistencyOff()
    normals.AutoOrientNormalsOff()
    normals.ComputeCellNormalsOff()
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputConnection(normals.GetOutputPort())
    mapper.ScalarVisibilityOff()
    actor = pv.Actor(mapper=mapper)
    actor.prop.interpolation = "phong"
    return SurfaceActor(polydata, normals, actor)


def instrument_polydata(instrument: Instrument, segments: int = 24) -> pv.PolyData:
    """The instrument's primitives as one mesh in its tip frame (mm), with RGB cell colours.

    The part holding the tip (:attr:`InstrumentGeometry.tip_part`) gets :data:`TIP_COLOUR`,
    the others :data:`SHAFT_COLOUR`; cell array ``"rgb"`` is (m, 3) uint8.
    """
    geometry = instrument_geometry(instrument)
    vertices, faces, colours, offset = [], [], [], 0
    for part in geometry.parts:
        mesh = part.primitive.mesh(segments)
        colour = TIP_COLOUR if part.name == geometry.tip_part else SHAFT_COLOUR
        vertices.append(np.asarray(mesh.vertices, dtype=np.float64))
        faces.append(np.asarray(mesh.faces, dtype=np.int64) + offset)
        colours.append(np.tile(np.round(np.multiply(colour, 255)), (len(mesh.faces), 1)))
        offset += len(mesh.vertices)
    merged = pv.PolyData.from_regular_faces(np.vstack(vertices), np.vstack(faces))
    merged.cell_data["rgb"] = np.vstack(colours).astype(np.uint8)
    return merged.compute_normals(split_vertices=True, cell_normals=False)


def pose_matrix(pose: np.ndarray) -> vtk.vtkMatrix4x4:
    """A (4, 4) rigid pose as a VTK matrix."""
    matrix = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(pose[row, column]))
    return matrix


def instrument_actor(polydata: pv.PolyData, pose: np.ndarray) -> pv.Actor:
    """An actor of an instrument mesh (tip frame) placed at ``pose`` (tip frame -> LPS mm)."""
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputData(polydata)
    mapper.SetScalarModeToUseCellFieldData()
    mapper.SelectColorArray("rgb")
    mapper.SetColorModeToDirectScalars()
    mapper.ScalarVisibilityOn()
    actor = pv.Actor(mapper=mapper)
    actor.prop.specular = 0.6
    actor.prop.specular_power = 30.0
    actor.SetUserMatrix(pose_matrix(pose))
    return actor


def set_instrument_selected(actor: pv.Actor, selected: bool) -> None:
    """Draw the whole instrument in :data:`SELECTED_COLOUR`, or back in its part colours."""
    actor.GetMapper().SetScalarVisibility(not selected)
    actor.GetProperty().SetColor(*SELECTED_COLOUR)


def incision_points(incision: Incision, twin: PatientTwin | None) -> np.ndarray:
    """The cut (n, 3) LPS mm: the geodesic on its structure's surface when it can be traced,
    otherwise the straight polyline through the picked points."""
    if twin is not None and incision.structure in twin.structures:
        try:
            return trace_incision(incision, twin.structures[incision.structure].surface
                                  ).path_lps_mm
        except Exception:  # noqa: BLE001 - a plan that cannot be traced is still drawn
            pass
    return np.asarray(incision.points_lps_mm, dtype=np.float64)


def polyline(points_lps_mm: np.ndarray) -> pv.PolyData:
    """One open polyline through (n, 3) points."""
    return pv.lines_from_points(np.asarray(points_lps_mm, dtype=np.float64))


def line_actor(points_lps_mm: np.ndarray, colour, width: float = 4.0) -> pv.Actor:
    """An unlit polyline through (n, 3) points (LPS mm) drawn as tubes ``width`` pixels wide."""
    actor = pv.Actor(mapper=pv.DataSetMapper(polyline(points_lps_mm)))
    actor.GetProperty().SetColor(*colour)
    actor.prop.line_width = width
    actor.prop.render_lines_as_tubes = True
    actor.prop.lighting = False
    return actor


def segments_polydata(segments_lps_mm: np.ndarray) -> pv.PolyData:
    """Separate line segments from (N, 2, 3) end points (LPS mm)."""
    ends = np.asarray(segments_lps_mm, dtype=np.float64).reshape(-1, 2, 3)
    lines = np.column_stack([np.full(len(ends), 2), 2 * np.arange(len(ends)),
                             2 * np.arange(len(ends)) + 1]).ravel()
    return pv.PolyData(ends.reshape(-1, 3), lines=lines)


@dataclass(frozen=True)
class MeasurementDrawing:
    """What a measurement looks like: a polyline (k, 3) LPS mm and a label at a point."""

    points_lps_mm: np.ndarray
    label_lps_mm: np.ndarray
    text: str


def measurement_drawing(measurement: Measurement, twin: PatientTwin | None
                        ) -> MeasurementDrawing | None:
    """The line and label of a measurement, or ``None`` when it cannot be computed."""
    try:
        value = measure(twin, measurement)
    except Exception:  # noqa: BLE001 - a stale measurement is simply not drawn
        return None
    points = np.asarray(value.points_lps_mm, dtype=np.float64).reshape(-1, 3)
    unit = "°" if value.unit == "deg" else " mm"
    anchor = points[1] if measurement.kind == "angle" else points.mean(axis=0)
    return MeasurementDrawing(points, anchor, f"{value.value:.1f}{unit}")
