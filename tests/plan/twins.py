"""Twins made of exact spheres (icospheres) for plan tests with analytic answers."""

from __future__ import annotations

import numpy as np
import trimesh

from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.collision import CollisionProxy
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.properties import mass_properties
from surgiplan.twin.quality import check_mesh
from surgiplan.twin.twin import PatientTwin, StructureModel

GRID_HALF_MM = 120.0
GRID_SPACING_MM = 5.0


def mesh_structure(name: str, mesh: trimesh.Trimesh, *, label: int = 1,
                   critical: bool = False) -> StructureModel:
    """A structure whose surface is ``mesh`` (LPS mm), with a full-resolution proxy."""
    surface = SurfaceMesh(mesh.vertices, mesh.faces)
    empty = Region.from_full_mask(np.zeros((1, 1, 1), dtype=bool))
    return StructureModel(
        info=StructureInfo(label, name, critical=critical), region=empty, surface=surface,
        report=check_mesh(surface), properties=mass_properties(surface), voxel_volume_ml=0.0,
        collision=CollisionProxy.from_mesh(surface, max_triangles=None),
    )


def icosphere(centre, radius_mm: float, subdivisions: int = 5) -> trimesh.Trimesh:
    """An icosphere (vertices on the sphere, faces slightly inside it)."""
    ball = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius_mm)
    return ball.apply_translation(np.asarray(centre, dtype=float))


def sphere_structure(name: str, centre, radius_mm: float, *, label: int = 1,
                     critical: bool = False) -> StructureModel:
    """A structure whose surface is a fine icosphere."""
    return mesh_structure(name, icosphere(centre, radius_mm), label=label, critical=critical)


def sphere_twin(spheres: dict[str, tuple]) -> PatientTwin:
    """A twin of spheres ``name: (centre, radius_mm[, critical])`` on a 240 mm cubic grid.

    The grid spans -122.5 .. 122.5 mm (49 voxels of 5 mm, voxel centres -120 .. 120).
    """
    n = int(2 * GRID_HALF_MM / GRID_SPACING_MM) + 1
    affine = np.diag([GRID_SPACING_MM] * 3 + [1.0])
    affine[:3, 3] = -GRID_HALF_MM
    twin = PatientTwin(LabelMap.empty_like((n, n, n), affine))
    for label, (name, spec) in enumerate(spheres.items(), start=1):
        critical = bool(spec[2]) if len(spec) > 2 else False
        twin.structures[name] = sphere_structure(name, spec[0], spec[1], label=label,
                                                 critical=critical)
    return twin
