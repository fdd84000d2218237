"""Newton's method with line search on the corotational FEM energy.

The objective is the static (or implicit-Euler) energy of :class:`Objective`; each iteration
solves the rotated tangent system by PCG preconditioned with the warped factor of
:mod:`.fem_solvers` and backtracks along the direction until the energy decreases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
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
from surgiplan.simulation.fem_solvers import pcg, rotate

_MAX_BACKTRACKS = 12


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
