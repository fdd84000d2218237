"""The FEM model (mesh, materials, fixed nodes), its result type and boundary helpers.

Units: mm, N, MPa (N/mm^2), tonne/mm^3, s (see :mod:`surgiplan.simulation.materials`); LPS
frame of the twin. The solvers are in :mod:`surgiplan.simulation.fem`, which re-exports
everything public here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from surgiplan.errors import InputError
from surgiplan.simulation import fem_assembly as fa
from surgiplan.simulation.materials import Material, MaterialArrays, materials_for
from surgiplan.twin.tetmesh import TetMesh

_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])

_ASSEMBLY_CHUNK = 16384

Prescribed = dict[int, np.ndarray] | tuple[np.ndarray, np.ndarray] | None
"""Prescribed displacements (mm): ``{node: (3,)}`` or ``(indices (k,), values (k, 3))``."""


@dataclass(frozen=True, eq=False)
class FemModel:
    """A tet mesh with materials and fixed nodes, ready for the solvers.

    Parameters
    ----------
    nodes_mm : (n, 3) float ndarray
        Rest node positions, LPS mm.
    tets : (m, 4) int ndarray
        Positively oriented tets.
    materials : MaterialArrays
        Per-tet E (MPa), nu, rho (tonne/mm^3).
    fixed : (n,) bool ndarray, optional
        Nodes held at zero displacement (attachments); none by default.
    """

    nodes_mm: np.ndarray
    tets: np.ndarray
    materials: MaterialArrays
    fixed: np.ndarray | None = None
    geometry: fa.ElementGeometry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        nodes = np.ascontiguousarray(self.nodes_mm, dtype=np.float64)
        tets = np.ascontiguousarray(self.tets, dtype=np.int64)
        if nodes.ndim != 2 or nodes.shape[1] != 3 or not np.isfinite(nodes).all():
            raise InputError(f"nodes_mm must be a finite (n, 3) array, got {nodes.shape}")
        if tets.ndim != 2 or tets.shape[1] != 4 or len(tets) == 0:
            raise InputError(f"tets must be a non-empty (m, 4) array, got {tets.shape}")
        if tets.min() < 0 or tets.max() >= len(nodes):
            raise InputError("tets refer to nodes that do not exist")
        if self.materials.n_tets != len(tets):
            raise InputError(f"materials hold {self.materials.n_tets} tets, the mesh "
                             f"{len(tets)}: build them with materials_for(tet_mesh)")
        fixed = np.zeros(len(nodes), bool) if self.fixed is None else np.asarray(self.fixed)
        if fixed.shape != (len(nodes),) or fixed.dtype != bool:
            raise InputError(f"fixed must be a bool mask of shape ({len(nodes)},)")
        for name, value in (("nodes_mm", nodes), ("tets", tets), ("fixed", fixed.copy())):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "geometry", fa.element_geometry(nodes, tets))

    @classmethod
    def from_tet_mesh(cls, tet_mesh: TetMesh, *, fixed: np.ndarray | None = None,
                      overrides: dict[str, Material] | None = None) -> FemModel:
        """A model of a twin physics mesh with tissue-table materials (and user overrides)."""
        return cls(tet_mesh.nodes_lps_mm, tet_mesh.tets, materials_for(tet_mesh, overrides),
                   fixed)

    @property
    def n_nodes(self) -> int:
        return int(len(self.nodes_mm))

    @property
    def n_tets(self) -> int:
        return int(len(self.tets))

    @cached_property
    def shear_modulus_mpa(self) -> np.ndarray:
        """(m,) mu, MPa."""
        return self.materials.shear_modulus_mpa

    @cached_property
    def lame_lambda_mpa(self) -> np.ndarray:
        """(m,) lambda, MPa."""
        return self.materials.lame_lambda_mpa

    @cached_property
    def stiffness(self) -> sp.csr_matrix:
        """(3 n, 3 n) rest stiffness ``K0``, N/mm."""
        return stiffness_matrix(self.geometry, self.lame_lambda_mpa, self.shear_modulus_mpa)

    @cached_property
    def masses_t(self) -> np.ndarray:
        """(n,) lumped nodal masses, tonne."""
        return lumped_masses(self.geometry, self.materials.density_t_mm3)

    @cached_property
    def nodal_areas_mm2(self) -> np.ndarray:
        """(n,) tributary boundary area of each node (0 inside), mm^2."""
        return surface_nodal_areas(self.nodes_mm, self.tets)

    @cached_property
    def force_scale_n(self) -> float:
        """``max E * median(V)^(2/3)``, N: the force straining a typical tet by 100 %."""
        size = float(np.median(self.geometry.volumes_mm3)) ** (2.0 / 3.0)
        return float(self.materials.youngs_mpa.max()) * size


def stiffness_matrix(geometry: fa.ElementGeometry, lame_lambda: np.ndarray,
                     shear: np.ndarray) -> sp.csr_matrix:
    """Rest (small-strain) stiffness ``K0``, ``(3 n, 3 n)`` CSR in N/mm, DOF ``3 node + axis``.

    Block ``(a, b)`` of a tet: ``V (lambda g_a g_b^T + mu g_b g_a^T + mu (g_a . g_b) I)``;
    assembled in chunks of tets to bound memory.
    """
    n, m = geometry.n_nodes, geometry.n_tets
    total = sp.csr_matrix((3 * n, 3 * n))
    eye = np.eye(3)
    for start in range(0, m, _ASSEMBLY_CHUNK):
        part = slice(start, min(m, start + _ASSEMBLY_CHUNK))
        g = np.transpose(geometry.gradients[:, :, part], (2, 0, 1))
        vol, lam, mu = (a[part, None, None, None, None] for a in (
            geometry.volumes_mm3, lame_lambda, shear))
        dots = np.einsum("eak,ebk->eab", g, g)[..., None, None]
        blocks = vol * (lam * np.einsum("eai,ebj->eabij", g, g)
                        + mu * np.einsum("eaj,ebi->eabij", g, g) + mu * dots * eye)
        tets = geometry.tets[:, part].T
        rows = 3 * tets[:, :, None, None, None] + np.arange(3)[None, None, None, :, None]
        cols = 3 * tets[:, None, :, None, None] + np.arange(3)[None, None, None, None, :]
        shape = blocks.shape
        total = total + sp.csr_matrix((blocks.ravel(), (np.broadcast_to(rows, shape).ravel(),
                                                        np.broadcast_to(cols, shape).ravel())),
                                      shape=(3 * n, 3 * n))
    total.sum_duplicates()
    return total


def lumped_masses(geometry: fa.ElementGeometry, density_t_mm3: np.ndarray) -> np.ndarray:
    """(n,) lumped nodal masses, tonne: a quarter of each tet's mass to each of its nodes."""
    quarter = np.tile(density_t_mm3 * geometry.volumes_mm3 / 4.0, 4)
    return geometry.scatter @ quarter


@dataclass(frozen=True, eq=False)
class FemState:
    """Result of a solve or step (LPS frame).

    Attributes
    ----------
    displacement_mm : (n, 3) float64 ndarray
        Nodal displacements from rest, mm.
    velocity_mm_s : (n, 3) float64 ndarray
        Nodal velocities, mm/s (zero after a quasi-static solve).
    max_principal_strain : (m,) float64 ndarray
        Largest principal value of the corotated (Biot) strain ``sym(R^T F) - I`` per tet: the
        largest principal stretch minus one (0.2 = 20 % stretch), rotation-invariant.
    von_mises_kpa : (m,) float64 ndarray
        Von Mises stress of the corotated stress per tet, kPa.
    reaction_forces_n : (n, 3) float64 ndarray
        Forces the constraints (fixed and prescribed nodes) apply to the tissue, N; zero on
        free nodes.
    contact_force_vector_n : (3,) float64 ndarray
        Sum of the reactions on the prescribed (contact) nodes: the force of the instrument on
        the tissue, N.
    contact_force_n : float
        Its magnitude, N.
    contact_area_mm2 : float
        Tributary boundary area of the contact nodes, mm^2.
    contact_pressure_mmhg : float
        ``contact_force_n / contact_area_mm2`` in mmHg (0 without contact; NaN when the contact
        nodes have no boundary area).
    iterations : int
        Newton iterations (linear solves of the outer loop) made.
    converged : bool
        Whether the relative residual reached the tolerance.
    residual : float
        Final free-node residual relative to the largest force norm of the problem.
    inverted_elements : int
        Tets with ``det F <= 0`` in the result (should be 0).
    strain_energy_mj : float
        Corotated strain energy, mJ.
    """

    displacement_mm: np.ndarray
    velocity_mm_s: np.ndarray
    max_principal_strain: np.ndarray
    von_mises_kpa: np.ndarray
    reaction_forces_n: np.ndarray
    contact_force_vector_n: np.ndarray
    contact_force_n: float
    contact_area_mm2: float
    contact_pressure_mmhg: float
    iterations: int
    converged: bool
    residual: float
    inverted_elements: int
    strain_energy_mj: float


def prescribed_arrays(prescribed: Prescribed, model: FemModel) -> tuple[np.ndarray, np.ndarray]:
    """Sorted node indices ``(k,)`` and displacements ``(k, 3)`` mm of a prescription."""
    if prescribed is None:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    if isinstance(prescribed, dict):
        nodes = np.fromiter((int(k) for k in prescribed), dtype=np.int64, count=len(prescribed))
        values = np.array([np.asarray(v, dtype=float).reshape(3) for v in prescribed.values()])
    else:
        nodes = np.asarray(prescribed[0], dtype=np.int64).reshape(-1)
        values = np.asarray(prescribed[1], dtype=np.float64)
    values = values.reshape(len(nodes), 3) if values.size == 3 * len(nodes) else values
    if values.shape != (len(nodes), 3) or not np.isfinite(values).all():
        raise InputError("prescribed displacements must be one finite (3,) vector in mm per "
                         "node index")
    if len(nodes) and (nodes.min() < 0 or nodes.max() >= model.n_nodes):
        raise InputError(f"prescribed node indices must be in [0, {model.n_nodes})")
    if len(np.unique(nodes)) != len(nodes):
        raise InputError("prescribed node indices must be unique")
    if model.fixed[nodes].any():
        raise InputError(f"{int(model.fixed[nodes].sum())} prescribed nodes are fixed "
                         "attachment nodes: leave them out of the contact set")
    order = np.argsort(nodes)
    return nodes[order], values[order]


def force_array(forces_n: np.ndarray | None, n: int) -> np.ndarray:
    if forces_n is None:
        return np.zeros((n, 3))
    forces = np.asarray(forces_n, dtype=np.float64)
    if forces.shape != (n, 3) or not np.isfinite(forces).all():
        raise InputError(f"forces_n must be a finite ({n}, 3) array in N, got {forces.shape}")
    return forces


def _node_positions(mesh: TetMesh | np.ndarray) -> np.ndarray:
    nodes = mesh.nodes_lps_mm if isinstance(mesh, TetMesh) else np.asarray(mesh, dtype=float)
    if nodes.ndim != 2 or nodes.shape[1] != 3:
        raise InputError(f"expected a TetMesh or (n, 3) LPS mm nodes, got {nodes.shape}")
    return nodes


def fixed_nodes_near(mesh: TetMesh | np.ndarray, points_lps_mm: np.ndarray,
                     distance_mm: float) -> np.ndarray:
    """(n,) bool mask of the nodes within ``distance_mm`` of any of ``points_lps_mm`` (p, 3):
    attachments to bone or ligament surfaces (or the nodes an instrument touches)."""
    nodes = _node_positions(mesh)
    points = np.asarray(points_lps_mm, dtype=float).reshape(-1, 3)
    if not distance_mm >= 0:
        raise InputError(f"distance_mm must be >= 0, got {distance_mm}")
    if len(points) == 0:
        return np.zeros(len(nodes), dtype=bool)
    distance, _ = cKDTree(points).query(nodes, distance_upper_bound=distance_mm * (1 + 1e-12))
    return np.isfinite(distance)


def fixed_nodes_in_box(mesh: TetMesh | np.ndarray, lower_lps_mm: np.ndarray,
                       upper_lps_mm: np.ndarray) -> np.ndarray:
    """(n,) bool mask of the nodes inside the axis-aligned LPS box ``[lower, upper]`` (mm)."""
    nodes = _node_positions(mesh)
    lower, upper = (np.asarray(v, dtype=float).reshape(3) for v in (lower_lps_mm, upper_lps_mm))
    if (lower > upper).any():
        raise InputError(f"box lower corner {lower} is above its upper corner {upper}")
    return ((nodes >= lower) & (nodes <= upper)).all(axis=1)


def gravity_forces(model: FemModel, acceleration_mm_s2: np.ndarray) -> np.ndarray:
    """(n, 3) nodal weights, N: lumped masses times ``acceleration_mm_s2`` (e.g. 9810 mm/s^2
    towards posterior, ``(0, 9810, 0)`` in LPS, for a supine patient)."""
    g = np.asarray(acceleration_mm_s2, dtype=float).reshape(3)
    return model.masses_t[:, None] * g[None, :]


def boundary_faces(tets: np.ndarray) -> np.ndarray:
    """``(f, 3)`` node triples of the faces used by one tet only (tets ``(m, 4)``)."""
    faces = tets[:, _FACES].reshape(-1, 3)
    _, inverse, counts = np.unique(np.sort(faces, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    return faces[counts[inverse.reshape(-1)] == 1]


def surface_nodal_areas(nodes_mm: np.ndarray, tets: np.ndarray,
                        node_mask: np.ndarray | None = None) -> np.ndarray:
    """(n,) tributary boundary area of each node, mm^2: a third of each boundary triangle.

    With ``node_mask`` ``(n,)`` only triangles whose three nodes are in the mask count (e.g.
    the triangles of one face of a box, for consistent traction loads: force = area * t).
    """
    faces = boundary_faces(np.asarray(tets))
    if node_mask is not None:
        faces = faces[np.asarray(node_mask, dtype=bool)[faces].all(axis=1)]
    p = nodes_mm[faces]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    return np.bincount(faces.ravel(), np.repeat(area / 3.0, 3), minlength=len(nodes_mm))
