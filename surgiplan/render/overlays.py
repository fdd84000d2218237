"""What is drawn over a slice: label colours, mesh outlines and the crosshair (Qt-free).

Everything is returned in the display pixel coordinates of
:func:`surgiplan.render.slices.extract_plane` (``values[y, x]``, pixel centres at integers),
so a view draws it with the same transform as the grey image. The planes are voxel-axis planes
of the volume grid, exact for oblique affines: an affine map carries the LPS cut plane onto
the voxel plane ``k = index`` (or ``j``, ``i``) and keeps straight edges straight.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPlane, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkCutter, vtkStripper

from surgiplan.imaging.volume import Volume
from surgiplan.render.slices import Plane, ijk_to_pixel, pixel_to_ijk, plane_slice

RGB = tuple[int, int, int]


def label_overlay(labels_kji: np.ndarray, plane: Plane, index: int,
                  colours: Mapping[int, RGB], opacity: float = 0.4) -> np.ndarray:
    """Colour one plane of a label map.

    Parameters
    ----------
    labels_kji : (slices, rows, columns) integer ndarray
        Label values indexed ``[k, j, i]`` on the volume grid (0 = background).
    plane, index
        The plane and slice, as given to ``extract_plane``.
    colours : mapping of int to (r, g, b)
        Display colour (0-255) of each label value; labels without a colour stay transparent.
    opacity : float
        Alpha (0-1) of labelled pixels.

    Returns
    -------
    (height, width, 4) uint8 ndarray
        C-contiguous RGBA, oriented exactly like the plane image's ``values``.
    """
    values = np.asarray(plane_slice(labels_kji, plane, index))
    top = int(max(values.max(initial=0), max(colours, default=0)))
    lut = np.zeros((top + 1, 4), dtype=np.uint8)
    alpha = int(round(float(np.clip(opacity, 0.0, 1.0)) * 255))
    for label, rgb in colours.items():
        if 0 < label <= top:
            lut[label] = (*(int(c) for c in rgb), alpha)
    return np.ascontiguousarray(lut[values.astype(np.intp)])


class MeshCutter:
    """Cuts one surface with the slices of one plane, reusing the voxel-space vertices.

    Parameters
    ----------
    vertices_lps_mm : (n, 3) float array_like
        Vertex positions in patient LPS millimetres.
    faces : (m, 3) int array_like
        Triangle vertex indices.
    volume : Volume
        The grid whose slices are cut (its affine may be oblique).
    plane : Plane
        The slice orientation.
    """

    def __init__(self, vertices_lps_mm: np.ndarray, faces: np.ndarray, volume: Volume,
                 plane: Plane) -> None:
        self.shape = volume.shape
        self.plane = plane
        self.ijk = volume.lps_to_ijk(np.asarray(vertices_lps_mm, dtype=float).reshape(-1, 3))
        self.faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        depth = self.ijk[:, 2 - plane.value][self.faces]  # (m, 3) slice coordinate per corner
        self.face_low, self.face_high = depth.min(axis=1), depth.max(axis=1)

    def cut(self, index: float) -> list[np.ndarray]:
        """Outline of the surface on slice ``index``: a list of (n, 2) pixel polylines.

        Closed loops repeat their first point at the end.
        """
        crossing = np.flatnonzero((self.face_low <= index) & (self.face_high >= index))
        if crossing.size == 0:
            return []
        faces = self.faces[crossing]
        used, local = np.unique(faces, return_inverse=True)
        polydata = _polydata(self.ijk[used], local.reshape(-1, 3))
        normal = np.zeros(3)
        normal[2 - self.plane.value] = 1.0
        origin = normal * float(index)
        lines_ijk = _cut_lines(polydata, origin, normal)
        return [ijk_to_pixel(self.shape, self.plane, line)[0] for line in lines_ijk]


def mesh_outline(vertices_lps_mm: np.ndarray, faces: np.ndarray, volume: Volume, plane: Plane,
                 index: int) -> list[np.ndarray]:
    """Where a surface crosses one slice, in the plane image's pixel coordinates.

    Parameters
    ----------
    vertices_lps_mm : (n, 3) float array_like
        Vertex positions in patient LPS millimetres.
    faces : (m, 3) int array_like
        Triangle vertex indices.
    volume : Volume
        The grid shown; its affine (oblique or not) places the slice in LPS.
    plane, index
        The slice, as given to ``extract_plane`` (the plane through its voxel centres).

    Returns
    -------
    list of (n, 2) float ndarray
        Polylines ``(x, y)`` in display pixels (pixel centres at integers); closed loops
        repeat their first point. Empty when the surface misses the slice.

    Examples
    --------
    >>> import numpy as np, pyvista as pv
    >>> from surgiplan.imaging import Volume
    >>> sphere = pv.Sphere(radius=5.0, theta_resolution=60, phi_resolution=60)
    >>> volume = Volume(np.zeros((21, 21, 21), np.int16),
    ...                 np.array([[1, 0, 0, -10], [0, 1, 0, -10], [0, 0, 1, -10], [0, 0, 0, 1.]]),
    ...                 "CT")
    >>> faces = sphere.faces.reshape(-1, 4)[:, 1:]
    >>> loops = mesh_outline(sphere.points, faces, volume, Plane.AXIAL, 10)
    >>> radius = np.linalg.norm(loops[0] - 10.0, axis=1)
    >>> bool(np.all(abs(radius - 5.0) < 0.05))
    True
    """
    return MeshCutter(vertices_lps_mm, faces, volume, plane).cut(index)


def crosshair_pixel(volume: Volume, plane: Plane, point_lps_mm: np.ndarray) -> tuple[float, float]:
    """Display pixel ``(x, y)`` of an LPS point (mm) projected along the plane's normal axis."""
    ijk = volume.lps_to_ijk(np.reshape(np.asarray(point_lps_mm, dtype=float), (1, 3)))
    x, y = ijk_to_pixel(volume.shape, plane, ijk)[0][0]
    return float(x), float(y)


def pixel_to_lps(volume: Volume, plane: Plane, index: float, x: float, y: float) -> np.ndarray:
    """The (3,) LPS point (mm) at display pixel ``(x, y)`` of slice ``index``.

    The inverse of :func:`crosshair_pixel` for points on that slice.
    """
    ijk = pixel_to_ijk(volume.shape, plane, index, [[x, y]])
    return volume.ijk_to_lps(ijk)[0]


def _polydata(points: np.ndarray, triangles: np.ndarray) -> vtkPolyData:
    """A VTK triangle mesh from (n, 3) points and (m, 3) vertex indices."""
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64), deep=True))
    offsets = np.arange(0, 3 * len(triangles) + 1, 3, dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True),
                  numpy_to_vtkIdTypeArray(triangles.astype(np.int64).ravel(), deep=True))
    polydata = vtkPolyData()
    polydata.SetPoints(vtk_points)
    polydata.SetPolys(cells)
    return polydata


def _cut_lines(polydata: vtkPolyData, origin: np.ndarray, normal: np.ndarray) -> list[np.ndarray]:
    """Cut ``polydata`` with a plane and join the segments into (n, 3) polylines."""
    cut_plane = vtkPlane()
    cut_plane.SetOrigin(*origin)
    cut_plane.SetNormal(*normal)
    cutter = vtkCutter()
    cutter.SetCutFunction(cut_plane)
    cutter.SetInputData(polydata)
    stripper = vtkStripper()
    stripper.SetInputConnection(cutter.GetOutputPort())
    stripper.JoinContiguousSegmentsOn()
    stripper.Update()
    output = stripper.GetOutput()
    if output.GetNumberOfPoints() == 0:
        return []
    points = vtk_to_numpy(output.GetPoints().GetData()).astype(float)
    lines = output.GetLines()
    offsets = vtk_to_numpy(lines.GetOffsetsArray())
    connectivity = vtk_to_numpy(lines.GetConnectivityArray())
    return [points[connectivity[start:stop]]
            for start, stop in zip(offsets[:-1], offsets[1:], strict=True) if stop - start >= 2]
