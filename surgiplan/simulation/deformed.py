"""Deformed render surfaces: physics-mesh displacements carried to the smooth surface.

The render surface of a structure is embedded in its physics tet mesh by barycentric
coordinates (:mod:`surgiplan.twin.embedding`, SOFA's ``BarycentricMapping``), so the FEM's
nodal displacements (LPS mm) move every surface vertex by P1 interpolation. Faces are shared
with the rest surface; only the vertices change.
"""

from __future__ import annotations

import numpy as np

from surgiplan.errors import InputError
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.twin import StructureModel


def deformed_surface(structure: StructureModel, displacement_mm: np.ndarray) -> SurfaceMesh:
    """The structure's render surface after its physics nodes moved by ``displacement_mm``.

    Parameters
    ----------
    structure : StructureModel
        A deformable structure of the twin (with a physics mesh and surface embedding).
    displacement_mm : (n, 3) float ndarray
        Displacement of each physics-mesh node from rest, LPS mm (e.g.
        ``FemState.displacement_mm``).

    Returns
    -------
    SurfaceMesh
        Deformed vertices ``(nv, 3)`` LPS mm and the rest surface's faces. Zero displacement
        gives the rest surface exactly.

    Raises
    ------
    InputError
        The structure has no physics mesh (rigid or too small), the displacement does not
        have one row per physics node, or the embedding does not match the surface.
    """
    physics = structure.physics
    if physics is None:
        raise InputError(f"structure {structure.name!r} has no physics mesh (it is rigid or too "
                         "small to mesh): it cannot deform")
    displacement = np.asarray(displacement_mm, dtype=np.float64)
    n_nodes = physics.tet_mesh.n_nodes
    if displacement.shape != (n_nodes, 3):
        raise InputError(f"displacement of {structure.name!r} must be ({n_nodes}, 3) mm, one "
                         f"row per physics node, got {displacement.shape}")
    if physics.embedding.n_vertices != structure.surface.n_vertices:
        raise InputError(f"the embedding of {structure.name!r} ties "
                         f"{physics.embedding.n_vertices} vertices but its surface has "
                         f"{structure.surface.n_vertices}: rebuild the twin")
    vertices = physics.embedding.deform(displacement)
    return SurfaceMesh(vertices, structure.surface.faces)
