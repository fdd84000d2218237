"""Vectorised element kernels of the corotational linear P1 tetrahedron.

Units: mm, N, MPa, tonne, s (see :mod:`surgiplan.simulation.materials`). Every per-element
array is stored component-first ("structure of arrays"): a batch of 3x3 matrices is a
``(3, 3, m)`` array whose entry ``[i, j]`` is a contiguous ``(m,)`` vector, which keeps numpy's
elementwise kernels and ``einsum`` fast without Python loops over elements.

Formulation (Nesme, Payan & Faure 2005; SOFA's default ``method="large"`` up to the rotation):

- ``F = I + sum_a u_a g_a^T`` with the constant shape-function gradients ``g_a`` (1/mm) of the
  rest tet; ``R`` is the rotation of the polar decomposition ``F = R S``.
- Corotated strain ``eps = sym(R^T F) - I`` (= ``S - I``, the Biot strain: its eigenvalues are
  the principal stretches minus one); stress ``sigma = lambda tr(eps) I + 2 mu eps`` (MPa).
- Element nodal forces ``f_a = V R sigma g_a``. This is exactly ``R K_e (R^T x - X)`` (``K_e``
  the small-strain element stiffness, ``X`` the rest and ``x`` the current nodes), written with
  3x3 products instead of 12x12 ones, and exactly the gradient of the corotated energy
  ``V (mu |eps|^2 + lambda/2 tr(eps)^2)`` (McAdams et al. 2011), which the line search uses.
- Tangent used by the solvers: ``sum_e R K_e R^T`` (rotation held fixed), applied matrix-free.

The batched 3x3 kernels (polar decomposition, strain, stress, strain measures) live in
:mod:`.fem_kernels`; this module gathers nodal fields into elements and scatters back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from surgiplan.errors import InputError
from surgiplan.simulation.fem_kernels import (
    chunks,
    cofactor9,
    corotated_strain,
    determinants,
    linear_stress,
    max_principal,
    polar_block,
    polar_rotations,
    rotated_back,
    strain_energy_density,
    strain_measures,
    symmetric_part,
    von_mises,
)

__all__ = ["ElementGeometry", "ElementState", "corotated_strain", "determinants",
           "displacement_gradients", "dot", "element_geometry", "element_state",
           "linear_stress", "max_principal", "nodal_forces", "node_rotations", "norm",
           "polar_rotations", "strain_energy_density", "strain_measures", "tangent_product",
           "von_mises"]

_POLAR_TOLERANCE = 1e-7


@dataclass(frozen=True, eq=False)
class ElementGeometry:
    """Rest-state quantities of a tet mesh, computed once.

    Attributes
    ----------
    tets : (4, m) int64 ndarray
        Node indices, vertex-major (``tets[a]`` is vertex ``a`` of every tet).
    volumes_mm3 : (m,) float64 ndarray
        Rest volumes, mm^3 (all > 0).
    gradients : (4, 3, m) float64 ndarray
        Shape-function gradients ``g_a`` at rest, 1/mm.
    scatter : (n, 4 m) scipy.sparse.csr_matrix
        Sums per-(vertex, tet) values into nodes; column ``a * m + e`` is vertex ``a`` of tet
        ``e``.
    incidence : (n, m) scipy.sparse.csr_matrix
        The rest volume of the tet (mm^3) where a node is one of its vertices (weights of the
        node rotations).
    n_nodes : int
        Number of mesh nodes.
    """

    tets: np.ndarray
    volumes_mm3: np.ndarray
    gradients: np.ndarray
    scatter: sp.csr_matrix
    incidence: sp.csr_matrix
    n_nodes: int

    @property
    def n_tets(self) -> int:
        return int(self.tets.shape[1])


def element_geometry(nodes_mm: np.ndarray, tets: np.ndarray) -> ElementGeometry:
    """Volumes, shape-function gradients and the scatter matrix of a tet mesh.

    Parameters
    ----------
    nodes_mm : (n, 3) float ndarray
        Rest node positions, mm.
    tets : (m, 4) int ndarray
        Positively oriented tets.

    Raises
    ------
    InputError
        A tet with a non-positive volume (inverted or flat).
    """
    corners = nodes_mm[tets]
    edges = np.transpose(corners[:, 1:] - corners[:, :1], (0, 2, 1))
    volumes = np.linalg.det(edges) / 6.0
    scale = np.abs(edges).max(axis=(1, 2)) ** 3
    bad = np.flatnonzero(volumes <= 1e-12 * scale)
    if len(bad):
        raise InputError(f"{len(bad)} tets have a non-positive volume (first: tet {bad[0]}); "
                         "rebuild the physics mesh with positively oriented tets")
    inverse = np.linalg.inv(edges)
    gradients = np.concatenate([-inverse.sum(axis=1, keepdims=True), inverse], axis=1)
    m, n = len(tets), len(nodes_mm)
    columns = np.arange(4 * m)
    scatter = sp.csr_matrix((np.ones(4 * m), (tets.T.reshape(-1), columns)), shape=(n, 4 * m))
    incidence = sp.csr_matrix((np.tile(volumes, 4), (tets.T.reshape(-1), columns % m)),
                              shape=(n, m))
    return ElementGeometry(np.ascontiguousarray(tets.T, dtype=np.int64), volumes,
                           np.ascontiguousarray(np.transpose(gradients, (1, 2, 0))), scatter,
                           incidence, n)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two equally shaped arrays.

    einsum, not BLAS: OpenBLAS's threaded ``ddot`` takes milliseconds on a busy 2-core machine
    for the 10^4-10^5 entries of a nodal field, 1000x longer than the loop.
    """
    return float(np.einsum("i,i->", a.reshape(-1), b.reshape(-1)))


def norm(a: np.ndarray) -> float:
    """Euclidean norm of an array (see :func:`dot`)."""
    return dot(a, a) ** 0.5


def _gradient(columns: np.ndarray, tets: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """``(3, 3, c)`` ``sum_a v_a g_a^T`` of node columns ``(3, n)`` over a block of tets."""
    first = np.take(columns, tets[0], axis=1)
    diffs = np.stack([np.take(columns, tets[a], axis=1) - first for a in (1, 2, 3)])
    return np.einsum("aim,ajm->ijm", diffs, gradients[1:])


def displacement_gradients(geometry: ElementGeometry, field: np.ndarray) -> np.ndarray:
    """``(3, 3, m)`` gradient ``sum_a field_a g_a^T`` of a nodal field ``(n, 3)`` (e.g. mm)."""
    columns = np.ascontiguousarray(field.T)
    out = np.empty((3, 3, geometry.n_tets))
    for part in chunks(geometry.n_tets):
        out[:, :, part] = _gradient(columns, geometry.tets[:, part],
                                    geometry.gradients[:, :, part])
    return out


def _scatter(geometry: ElementGeometry, per_vertex: np.ndarray) -> np.ndarray:
    """``(n, 3)`` node sums of per-(vertex, tet) vectors ``(3, 4, m)``."""
    flat = per_vertex.reshape(3, -1)
    return np.stack([geometry.scatter @ flat[i] for i in range(3)], axis=1)


def nodal_forces(geometry: ElementGeometry, piola: np.ndarray) -> np.ndarray:
    """``(n, 3)`` nodal forces ``sum_e V P g_a`` of per-element ``(3, 3, m)`` stresses ``P``."""
    weighted = piola * geometry.volumes_mm3
    return _scatter(geometry, np.einsum("ijm,ajm->iam", weighted, geometry.gradients))


def tangent_product(geometry: ElementGeometry, lame_lambda: np.ndarray, shear: np.ndarray,
                    rotations: np.ndarray, field: np.ndarray,
                    strain: np.ndarray | None = None) -> np.ndarray:
    """``(n, 3)`` tangent stiffness times a nodal field ``p`` ``(n, 3)`` (N for mm).

    Without ``strain``: the rotated stiffness ``sum_e R K_e R^T p`` (rotations held fixed,
    symmetric positive semi-definite). With the corotated ``strain`` ``(3, 3, m)`` of the
    current state: the consistent tangent (the Hessian of the corotated energy), which adds
    the rotation-derivative terms ``dR = R W``, ``W`` skew with axial vector
    ``(tr(S) I - S)^-1 axial(R^T dF - dF^T R)``; it converges quadratically but may be
    indefinite under compression.
    """
    columns = np.ascontiguousarray(field.T)
    per_vertex = np.empty((3, 4, geometry.n_tets))
    for part in chunks(geometry.n_tets):
        g = geometry.gradients[:, :, part]
        local = rotated_back(rotations[:, :, part], _gradient(columns, geometry.tets[:, part], g))
        lam, mu = lame_lambda[part], shear[part]
        if strain is None:
            stress = linear_stress(symmetric_part(local), lam, mu)
        else:
            stress = _consistent_stress(local, strain[:, :, part], lam, mu)
        piola = np.einsum("ikm,kjm->ijm", rotations[:, :, part], stress)
        piola *= geometry.volumes_mm3[part]
        per_vertex[:, :, part] = np.einsum("ijm,ajm->iam", piola, g)
    return _scatter(geometry, per_vertex)


def _consistent_stress(local: np.ndarray, strain: np.ndarray, lam: np.ndarray,
                       mu: np.ndarray) -> np.ndarray:
    """``W sigma + C:dS`` (``R^T dP``) for ``local = R^T dF`` ``(3, 3, c)``."""
    s = strain.copy()
    for i in range(3):
        s[i, i] += 1.0
    trace = s[0, 0] + s[1, 1] + s[2, 2]
    m = -s
    for i in range(3):
        m[i, i] += trace
    cof = cofactor9(m.reshape(9, -1)).reshape(3, 3, -1)
    det = np.einsum("jm,jm->m", m[0], cof[0])
    safe = np.where(np.abs(det) > 1e-12, det, np.inf)
    axial = np.stack([local[2, 1] - local[1, 2], local[0, 2] - local[2, 0],
                      local[1, 0] - local[0, 1]])
    w = np.einsum("jim,jm->im", cof, axial) / safe
    zero = np.zeros_like(w[0])
    skew = np.array([[zero, -w[2], w[1]], [w[2], zero, -w[0]], [-w[1], w[0], zero]])
    ds = local - np.einsum("ikm,kjm->ijm", skew, s)
    stress = linear_stress(symmetric_part(ds), lam, mu)
    return stress + np.einsum("ikm,kjm->ijm", skew, linear_stress(strain, lam, mu))


@dataclass(frozen=True, eq=False)
class ElementState:
    """Corotational quantities of a displacement field.

    Attributes
    ----------
    rotations : (3, 3, m) float64 ndarray
        Element rotations ``R``.
    strain : (3, 3, m) float64 ndarray
        Corotated (Biot) strain ``sym(R^T F) - I``.
    internal_forces : (n, 3) float64 ndarray
        Elastic nodal forces, N (the negative of the forces the tissue exerts on its nodes).
    strain_energy_mj : float
        Corotated strain energy, mJ (N mm).
    inverted : (m,) bool ndarray
        Tets with ``det F <= 0``.
    shear : (m,) float64 ndarray
        Shear moduli, MPa.
    max_principal_strain : (m,) float64 ndarray
        Largest eigenvalue of ``strain`` (computed on first use: line-search trials skip it).
    von_mises_mpa : (m,) float64 ndarray
        Von Mises stress, MPa (computed on first use).
    """

    rotations: np.ndarray
    strain: np.ndarray
    internal_forces: np.ndarray
    strain_energy_mj: float
    inverted: np.ndarray
    shear: np.ndarray

    @cached_property
    def _measures(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.strain.shape[2]
        principal, mises = np.empty(m), np.empty(m)
        for part in chunks(m):
            principal[part], mises[part] = strain_measures(self.strain[:, :, part],
                                                           self.shear[part])
        return principal, mises

    @property
    def max_principal_strain(self) -> np.ndarray:
        return self._measures[0]

    @property
    def von_mises_mpa(self) -> np.ndarray:
        return self._measures[1]


def element_state(geometry: ElementGeometry, lame_lambda: np.ndarray, shear: np.ndarray,
                  displacement_mm: np.ndarray) -> ElementState:
    """Rotations, strains, internal forces and energy of nodal displacements ``(n, 3)`` mm."""
    m = geometry.n_tets
    columns = np.ascontiguousarray(displacement_mm.T)
    rotations, strain = np.empty((3, 3, m)), np.empty((3, 3, m))
    inverted, per_vertex, energy = np.empty(m, dtype=bool), np.empty((3, 4, m)), 0.0
    for part in chunks(m):
        g, lam, mu = geometry.gradients[:, :, part], lame_lambda[part], shear[part]
        f = _gradient(columns, geometry.tets[:, part], g)
        for i in range(3):
            f[i, i] += 1.0
        r, inverted[part] = polar_block(f, _POLAR_TOLERANCE)
        eps = corotated_strain(r, f)
        stress = linear_stress(eps, lam, mu)
        volumes = geometry.volumes_mm3[part]
        energy += 0.5 * float(np.einsum("m,m->", np.einsum("ijm,ijm->m", stress, eps), volumes))
        piola = np.einsum("ikm,kjm->ijm", r, stress) * volumes
        per_vertex[:, :, part] = np.einsum("ijm,ajm->iam", piola, g)
        rotations[:, :, part], strain[:, :, part] = r, eps
    return ElementState(rotations, strain, _scatter(geometry, per_vertex), energy, inverted,
                        shear)


def node_rotations(geometry: ElementGeometry, rotations: np.ndarray) -> np.ndarray:
    """``(n, 3, 3)`` per-node rotations for the rotation-warped preconditioner and the stiffness
    damping: the volume-weighted mean of the rotations of the tets around each node, made a
    proper rotation by Gram-Schmidt on its columns (SOFA's "large" frame; exact when the tets
    around a node share one rotation)."""
    mean = np.stack([geometry.incidence @ row for row in rotations.reshape(9, -1)])
    mean = mean.reshape(3, 3, -1)
    first = mean[:, 0] / np.sqrt(np.einsum("in,in->n", mean[:, 0], mean[:, 0]))
    second = mean[:, 1] - np.einsum("in,in->n", first, mean[:, 1]) * first
    second /= np.sqrt(np.einsum("in,in->n", second, second))
    third = np.stack([first[1] * second[2] - first[2] * second[1],
                      first[2] * second[0] - first[0] * second[2],
                      first[0] * second[1] - first[1] * second[0]])
    return np.ascontiguousarray(np.transpose(np.stack([first, second, third], axis=1),
                                             (2, 0, 1)))
