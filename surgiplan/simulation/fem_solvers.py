"""Solver machinery: cached sparse Cholesky factors, constraints, PCG (Newton: :mod:`.newton`).

Factorization reuse. The system matrix of a mode (the rest stiffness ``K0`` for quasi-static
solves, ``M (1/dt^2 + alpha/dt) + (1 + beta/dt) K0`` for implicit Euler) is factorized with
CHOLMOD (:mod:`.sparse_cholesky`: scikit-sparse with OpenBLAS when installed, else cholespy)
with the Dirichlet nodes eliminated, and the factor is kept in a small LRU
cache keyed by ``(mode, eliminated-node set)``. Only a change of mode, time step, damping or of
the *fixed* (attachment) nodes costs a new factorization.

Contact constraints without refactorization. Instrument contact nodes (prescribed
displacements) change from step to step. They are imposed exactly with Lagrange multipliers on
top of the factor of the fixed-boundary system (SOFA's ``LinearSolverConstraintCorrection``,
physics.md section 5.2): with ``J`` selecting the contact DOFs, ``z = A^-1 (b + J^T l)`` and
``J z = y`` give ``W l = y - J A^-1 b`` with the compliance ``W = J A^-1 J^T``. The compliance
columns ``A^-1 J^T`` cost one solve per DOF of a newly touched node and are cached per node, so
a step with an unchanged (or growing by a few nodes) contact set costs one solve plus a small
dense solve. Contact sets larger than the solver's ``compliance_limit`` are instead eliminated
in a factor of their own (cached by the same key), which is cheaper than thousands of columns.

Rotation warping. Solves are preconditioned by the fixed factor in a frame rotated per node
(``z = R A^-1 R^T b``, ``R`` the mean rotation of the tets around each node), exact for rigid
rotations of the whole body and close to the rotated stiffness ``R K R^T`` elsewhere.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from surgiplan.simulation.fem_assembly import (
    dot,
    norm,
)
from surgiplan.simulation.sparse_cholesky import factorize

_COLUMN_CHUNK = 96
_COLUMN_BUDGET_BYTES = 256 * 2**20
"""Memory for cached compliance columns (3 x 8 bytes per kept DOF and node)."""


class Factorization:
    """Sparse Cholesky factor of a ``(3 n, 3 n)`` SPD matrix with some nodes eliminated.

    Parameters
    ----------
    matrix : (3 n, 3 n) scipy.sparse matrix
        Symmetric positive definite on the kept DOFs (N/mm).
    eliminated : (n,) bool ndarray
        Nodes whose three DOFs are removed (Dirichlet).
    backend : str, optional
        Sparse Cholesky backend (:func:`.sparse_cholesky.factorize`; default the fastest
        installed). ``self.backend`` is the one used.
    """

    def __init__(self, matrix: sp.spmatrix, eliminated: np.ndarray,
                 backend: str | None = None) -> None:
        self.eliminated = np.asarray(eliminated, dtype=bool).copy()
        self.n_nodes = len(self.eliminated)
        self.dofs = np.flatnonzero(np.repeat(~self.eliminated, 3))
        self.position = np.full(3 * self.n_nodes, -1, dtype=np.int64)
        self.position[self.dofs] = np.arange(len(self.dofs))
        self._factor = factorize(sp.csr_matrix(matrix)[self.dofs][:, self.dofs], backend)
        self.backend = self._factor.backend
        self._columns: dict[int, np.ndarray] = {}
        self._contact_key: bytes | None = None
        self._contact: tuple[np.ndarray, np.ndarray, tuple] | None = None

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``(n, 3)`` solution of ``A z = rhs`` on the kept DOFs, zero on eliminated nodes."""
        out = np.zeros(3 * self.n_nodes)
        out[self.dofs] = self.solve_reduced(np.asarray(rhs).reshape(-1)[self.dofs])
        return out.reshape(-1, 3)

    def solve_reduced(self, rhs: np.ndarray) -> np.ndarray:
        """Solve on the kept DOFs directly: ``(d,)`` or ``(d, k)`` right-hand sides."""
        return self._factor.solve(rhs)

    def contact_system(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Compliance data of a contact node set: DOF rows ``(3 k,)``, columns ``A^-1 J^T``
        ``(d, 3 k)`` and the Cholesky factor of ``W = J A^-1 J^T`` (cached for the last set)."""
        key = np.asarray(nodes, dtype=np.int64).tobytes()
        if key != self._contact_key:
            rows = self.position[(3 * nodes[:, None] + np.arange(3)).reshape(-1)]
            columns = self._compliance_columns(nodes)
            w = columns[rows]
            w_factor = scipy.linalg.cho_factor(0.5 * (w + w.T), lower=True)
            self._contact_key, self._contact = key, (rows, columns, w_factor)
        return self._contact

    def _compliance_columns(self, nodes: np.ndarray) -> np.ndarray:
        missing = [int(v) for v in nodes if int(v) not in self._columns]
        most = max(len(nodes), _COLUMN_BUDGET_BYTES // (24 * max(len(self.dofs), 1)))
        if len(self._columns) + len(missing) > most:
            self._columns.clear()
            missing = [int(v) for v in nodes]
        for start in range(0, len(missing), _COLUMN_CHUNK // 3):
            chunk = np.asarray(missing[start:start + _COLUMN_CHUNK // 3], dtype=np.int64)
            rows = self.position[(3 * chunk[:, None] + np.arange(3)).reshape(-1)]
            unit = np.zeros((len(self.dofs), len(rows)))
            unit[rows, np.arange(len(rows))] = 1.0
            solved = self.solve_reduced(unit)
            for k, node in enumerate(chunk):
                self._columns[int(node)] = solved[:, 3 * k:3 * k + 3]
        return np.concatenate([self._columns[int(v)] for v in nodes], axis=1)


class FactorCache:
    """LRU cache of :class:`Factorization` by key; ``count`` counts factorizations made,
    ``backend`` is the sparse Cholesky backend they use (None: the default one)."""

    def __init__(self, capacity: int = 4, backend: str | None = None) -> None:
        self.capacity, self.backend = capacity, backend
        self.count = 0
        self._entries: OrderedDict[Hashable, Factorization] = OrderedDict()

    def get(self, key: Hashable, matrix: Callable[[], sp.spmatrix],
            eliminated: np.ndarray) -> Factorization:
        """The factor for ``key``, built from ``matrix()`` and ``eliminated`` when missing."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        factor = Factorization(matrix(), eliminated, self.backend)
        self.count += 1
        self._entries[key] = factor
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return factor

    def clear(self) -> None:
        self._entries.clear()


def rotate(rotations: np.ndarray | None, field: np.ndarray, *, inverse: bool = False
           ) -> np.ndarray:
    """Per-node ``R v`` (or ``R^T v`` with ``inverse``) of a field ``(n, 3)``; rotations
    ``(n, 3, 3)`` or ``None`` (identity)."""
    if rotations is None:
        return field
    return np.einsum("nji,nj->ni" if inverse else "nij,nj->ni", rotations, field)


def constrained_solve(factor: Factorization, rhs: np.ndarray, contact_nodes: np.ndarray,
                      contact_values: np.ndarray, full_matrix: sp.spmatrix,
                      rotations: np.ndarray | None) -> np.ndarray:
    """Solve ``A z = rhs`` with ``z = contact_values`` on contact nodes and ``z = 0`` on the
    factor's eliminated nodes, in the frame warped by per-node ``rotations``.

    Parameters
    ----------
    factor : Factorization
        Factor of ``A`` (the rest matrix of the mode) with the fixed nodes (and possibly the
        contact nodes) eliminated.
    rhs : (n, 3) float ndarray
        Right-hand side (N); rows of constrained nodes are ignored.
    contact_nodes : (k,) int ndarray
        Prescribed nodes (may be empty).
    contact_values : (k, 3) float ndarray
        Their prescribed values (mm).
    full_matrix : (3 n, 3 n) sparse matrix
        ``A`` with no elimination (for the coupling of eliminated contact nodes).
    rotations : (n, 3, 3) float ndarray or None
        Per-node warping rotations.

    Returns
    -------
    (n, 3) float ndarray
        The solution, mm.
    """
    b = rotate(rotations, rhs, inverse=True)
    target = rotate(None if rotations is None else rotations[contact_nodes], contact_values,
                    inverse=True)
    if len(contact_nodes) and factor.eliminated[contact_nodes].all():
        lifted = np.zeros((factor.n_nodes, 3))
        lifted[contact_nodes] = target
        z = factor.solve(b - (full_matrix @ lifted.reshape(-1)).reshape(-1, 3))
    elif len(contact_nodes):
        rows, columns, w_factor = factor.contact_system(contact_nodes)
        reduced = factor.solve_reduced(b.reshape(-1)[factor.dofs])
        multipliers = scipy.linalg.cho_solve(w_factor, target.reshape(-1) - reduced[rows])
        reduced += np.einsum("dk,k->d", columns, multipliers)
        z = np.zeros(3 * factor.n_nodes)
        z[factor.dofs] = reduced
        z = z.reshape(-1, 3)
    else:
        z = factor.solve(b)
    z[contact_nodes] = target
    return rotate(rotations, z)


def pcg(apply_matrix: Callable[[np.ndarray], np.ndarray],
        precondition: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray, *,
        max_iterations: int, relative_tolerance: float) -> tuple[np.ndarray, int]:
    """Preconditioned conjugate gradients started from ``precondition(rhs)``.

    Parameters
    ----------
    apply_matrix, precondition : callables on ``(n, 3)`` fields
        SPD operator (zero on constrained DOFs) and its approximate inverse.
    rhs : (n, 3) float ndarray
        Right-hand side.
    max_iterations : int
        CG iterations after the initial preconditioner solve (0: that solve only).
    relative_tolerance : float
        Stop when ``|rhs - A x| <= relative_tolerance |rhs|``.

    Returns
    -------
    x : (n, 3) float ndarray
        Approximate solution.
    solves : int
        Preconditioner applications made.
    """
    x = precondition(rhs)
    if max_iterations <= 0:
        return x, 1
    r = rhs - apply_matrix(x)
    limit = relative_tolerance * norm(rhs)
    if norm(r) <= limit:
        return x, 1
    z = precondition(r)
    p, rz, solves = z, float(dot(r, z)), 2
    for _ in range(max_iterations):
        q = apply_matrix(p)
        curvature = float(dot(p, q))
        if not curvature > 0:
            break
        step = rz / curvature
        x, r = x + step * p, r - step * q
        if norm(r) <= limit:
            break
        z = precondition(r)
        solves += 1
        rz_new = float(dot(r, z))
        p, rz = z + (rz_new / rz) * p, rz_new
    return x, solves
