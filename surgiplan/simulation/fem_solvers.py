"""Solver machinery: cached sparse Cholesky factors, constraints, PCG, Newton with line search.

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
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from surgiplan.simulation.fem_assembly import (
    ElementGeometry,
    ElementState,
    dot,
    element_state,
    node_rotations,
    norm,
    tangent_product,
)
from surgiplan.simulation.sparse_cholesky import factorize

_COLUMN_CHUNK = 96
_COLUMN_BUDGET_BYTES = 256 * 2**20
"""Memory for cached compliance columns (3 x 8 bytes per kept DOF and node)."""
_MAX_BACKTRACKS = 12


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


@dataclass(frozen=True, eq=False)
class Point:
    """An iterate of the nonlinear solvers: displacement, element state, objective, gradient.

    ``gradient`` (N, ``(n, 3)``) is the residual with the sign of a force excess: internal +
    inertial + damping forces minus external forces. ``scale`` (N) is the largest of their
    norms, the reference of the relative residual.
    """

    displacement: np.ndarray
    state: ElementState
    value: float
    gradient: np.ndarray
    scale: float


@dataclass(eq=False)
class Objective:
    """Incremental potential whose minimisers are quasi-static or implicit-Euler solutions.

    Static: ``G(u) = W(u) - f.u`` (``W`` the corotated strain energy, dead loads ``f``).
    Implicit Euler (``inertia = 1/dt^2 > 0``) adds
    ``1/(2 dt^2) |u - u_pred|_M^2 + alpha/(2 dt) |u - u_n|_M^2 + beta/(2 dt) |u - u_n|_Kw^2``
    with ``u_pred = u_n + dt v_n`` and ``Kw = R_n K0 R_n^T`` (rest stiffness warped by the node
    rotations at ``u_n``, so rigid motions are not damped). Its gradient set to zero is the
    backward Euler step ``M (v - v_n)/dt + (alpha M + beta Kw) v + f_int(u) = f``.
    """

    geometry: ElementGeometry
    lame_lambda: np.ndarray
    shear: np.ndarray
    stiffness: sp.csr_matrix
    masses: np.ndarray
    forces: np.ndarray
    force_floor: float
    inertia: float = 0.0
    mass_damping: float = 0.0
    stiffness_damping: float = 0.0
    predicted: np.ndarray | None = None
    previous: np.ndarray | None = None
    previous_rotations: np.ndarray | None = None

    def point(self, displacement: np.ndarray, state: ElementState | None = None) -> Point:
        """Evaluate at ``displacement`` ``(n, 3)`` mm (``state`` reused when given)."""
        if state is None:
            state = element_state(self.geometry, self.lame_lambda, self.shear, displacement)
        value = state.strain_energy_mj - float(dot(self.forces, displacement))
        gradient = state.internal_forces - self.forces
        scale = max(norm(self.forces), norm(state.internal_forces))
        if self.inertia > 0:
            ahead, moved = displacement - self.predicted, displacement - self.previous
            dynamic = self.masses[:, None] * (self.inertia * ahead + self.mass_damping * moved)
            value += 0.5 * float(dot(self.masses[:, None] * ahead, ahead)) * self.inertia
            value += 0.5 * float(dot(self.masses[:, None] * moved, moved)) * self.mass_damping
            if self.stiffness_damping > 0 and moved.any():
                warped = self.warped_stiffness(moved)
                value += 0.5 * self.stiffness_damping * float(dot(moved, warped))
                dynamic = dynamic + self.stiffness_damping * warped
            gradient = gradient + dynamic
            scale = max(scale, norm(dynamic))
        return Point(displacement, state, value, gradient, scale)

    def warped_stiffness(self, field: np.ndarray) -> np.ndarray:
        """``R_n K0 R_n^T field`` ``(n, 3)``."""
        local = rotate(self.previous_rotations, field, inverse=True).reshape(-1)
        return rotate(self.previous_rotations, (self.stiffness @ local).reshape(-1, 3))

    def tangent(self, point: Point, field: np.ndarray) -> np.ndarray:
        """Hessian times ``field``: consistent corotational tangent plus the dynamic terms."""
        out = tangent_product(self.geometry, self.lame_lambda, self.shear,
                              point.state.rotations, field, point.state.strain)
        if self.inertia > 0:
            out += (self.inertia + self.mass_damping) * self.masses[:, None] * field
            if self.stiffness_damping > 0:
                out += self.stiffness_damping * self.warped_stiffness(field)
        return out


@dataclass(frozen=True, eq=False)
class NewtonResult:
    """End of a nonlinear solve: last iterate, iterations, convergence, relative residual."""

    point: Point
    iterations: int
    converged: bool
    residual: float


LinearSolve = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
"""``(rhs (n, 3), contact values (k, 3), node rotations or None) -> (n, 3)``."""


def minimize(objective: Objective, point: Point, constrained: np.ndarray,
             contact_nodes: np.ndarray, contact_targets: np.ndarray, solve: LinearSolve, *,
             max_iterations: int, tolerance: float, pcg_iterations: int,
             warp: bool, rotations: np.ndarray | None = None) -> NewtonResult:
    """Newton-type minimisation of ``objective`` with fixed-factor linear solves.

    The residual is measured on free nodes relative to the largest of the forces of the
    problem (``Point.scale``), the residual at the start and the force ``K0`` needs to impose
    the contact increment: a solution of zero force (rest, a rigid motion) is still judged.
    Iteration 0 moves the contact nodes to ``contact_targets`` (mm) with one warped solve that
    also corrects the residual (the linear predictor; no line search is possible while the
    constraint moves). Every further iteration solves the rotated tangent system by PCG
    preconditioned with the warped factor (``pcg_iterations`` CG steps) and backtracks on the
    objective (Armijo), accepting a step when the objective decreases enough, or, at round-off
    level, when the residual decreases; steps that invert more tets are rejected. ``rotations``
    ``(n, 3, 3)`` are the node rotations of ``point`` when already known.
    """
    def free(gradient: np.ndarray) -> np.ndarray:
        return np.where(constrained[:, None], 0.0, gradient)

    delta = contact_targets - point.displacement[contact_nodes]
    dofs = (3 * contact_nodes[:, None] + np.arange(3)).reshape(-1)
    imposing = (objective.stiffness[dofs].T @ delta.reshape(-1)).reshape(-1, 3)  # K0 symmetric
    reference = max(norm(free(point.gradient)), objective.force_floor, norm(free(imposing)))

    def relative(p: Point) -> float:
        return float(norm(free(p.gradient)) / max(p.scale, reference))

    iterations = 0
    if delta.size and np.abs(delta).max() > 0:
        if warp and rotations is None:
            rotations = node_rotations(objective.geometry, point.state.rotations)
        step = solve(-free(point.gradient), delta, rotations if warp else None)
        point, iterations = objective.point(point.displacement + step), 1
    while relative(point) > tolerance and iterations < max_iterations:
        rotations = node_rotations(objective.geometry, point.state.rotations) if warp else None
        zeros = np.zeros((len(contact_nodes), 3))

        def precondition(r: np.ndarray, rotations: np.ndarray | None = rotations,
                         zeros: np.ndarray = zeros) -> np.ndarray:
            return solve(r, zeros, rotations)

        def apply(p: np.ndarray, base: Point = point) -> np.ndarray:
            return free(objective.tangent(base, free(p)))

        direction, _ = pcg(apply, precondition, -free(point.gradient),
                           max_iterations=pcg_iterations, relative_tolerance=0.05)
        if not dot(direction, point.gradient) < 0:
            direction = precondition(-free(point.gradient))
        point, accepted = _line_search(objective, point, direction, free)
        iterations += 1
        if not accepted:
            break
    residual = relative(point)
    return NewtonResult(point, iterations, residual <= tolerance, residual)


def _line_search(objective: Objective, point: Point, direction: np.ndarray,
                 free: Callable[[np.ndarray], np.ndarray]) -> tuple[Point, bool]:
    slope = float(dot(point.gradient, direction))
    size = norm(free(point.gradient))
    inverted = int(point.state.inverted.sum())
    t = 1.0
    for _ in range(_MAX_BACKTRACKS):
        trial = objective.point(point.displacement + t * direction)
        if int(trial.state.inverted.sum()) <= inverted:
            if trial.value <= point.value + 1e-4 * t * slope:
                return trial, True
            flat = abs(trial.value - point.value) <= 1e-11 * max(abs(point.value), 1e-300)
            if flat and norm(free(trial.gradient)) < size:
                return trial, True
        t *= 0.5
    return point, False
