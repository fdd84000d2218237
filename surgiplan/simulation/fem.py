"""Corotational linear FEM on the physics tet meshes: quasi-static planning and implicit Euler.

Units: mm, N, MPa (N/mm^2), tonne/mm^3, s (see :mod:`surgiplan.simulation.materials`); LPS
frame of the twin. Outputs convert to kPa and mmHg where their names say so.

Model (SOFA's default, physics.md sections 1.2 and 5.2): linear P1 tets, per-element rotation
from the polar decomposition of ``F``, forces ``R K_e (R^T x - X)`` (:mod:`.fem_assembly`).

Solvers (:mod:`.fem_solvers`):

- :meth:`CorotationalSolver.solve_static` finds the equilibrium under dead loads and prescribed
  displacements: Newton iterations on the corotational residual whose linear systems use a
  *fixed* factorization of the rest stiffness ``K0`` (Dirichlet nodes eliminated, factorized
  once per constraint set and reused across iterations and calls), warped by per-node rotations
  and refined by a few PCG steps on the rotated tangent, with a backtracking line search on the
  energy. Loads can be ramped (``load_steps``); an increment that fails is bisected.
- :meth:`CorotationalSolver.step` is one backward Euler step (lumped mass, Rayleigh damping
  ``C = alpha M + beta K``) reusing a factorization of ``M/dt^2 + C/dt + K0`` per ``dt``.

Constraints: fixed (attachment) nodes are eliminated from the factor; instrument contact nodes
(push, retract, indent) are prescribed displacements imposed exactly through cached compliance
columns, so a changing contact set does not refactorize (details in :mod:`.fem_solvers`).
Reactions on constrained nodes give the contact force (N) and, over the nodes' tributary
boundary area, the contact pressure (mmHg).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from surgiplan.errors import InputError
from surgiplan.simulation import fem_assembly as fa
from surgiplan.simulation.fem_model import (
    FemModel,
    FemState,
    Prescribed,
    fixed_nodes_in_box,
    fixed_nodes_near,
    force_array,
    gravity_forces,
    prescribed_arrays,
    surface_nodal_areas,
)
from surgiplan.simulation.fem_solvers import FactorCache, constrained_solve
from surgiplan.simulation.materials import MMHG_TO_MPA
from surgiplan.simulation.newton import NewtonResult, Objective, Point, minimize
from surgiplan.simulation.sparse_cholesky import resolve_backend

__all__ = ["ConvergenceWarning", "CorotationalSolver", "FemModel", "FemState", "Prescribed",
           "fixed_nodes_in_box", "fixed_nodes_near", "gravity_forces", "surface_nodal_areas"]


class ConvergenceWarning(RuntimeWarning):
    """A quasi-static solve stopped before reaching its tolerance (see ``FemState``)."""


class CorotationalSolver:
    """Quasi-static and implicit-Euler solver of a :class:`FemModel`; owns the state (u, v).

    Parameters
    ----------
    model : FemModel
        Mesh, materials and fixed nodes.
    damping : (float, float)
        Rayleigh coefficients ``(alpha [1/s], beta [s])`` of ``C = alpha M + beta K``;
        SOFA's liver demo uses ``(0.1, 0.1)`` (physics.md section 1.2).
    compliance_limit : int
        Largest contact node set imposed through compliance columns on the fixed-boundary
        factor; larger sets get a factor of their own (cached by node set).
    warp : bool
        Rotate the fixed factor by per-node rotations (better convergence under rotation).
    backend : {"cholmod", "cholespy"}, optional
        Sparse Cholesky backend (:mod:`.sparse_cholesky`); default scikit-sparse's CHOLMOD
        when installed, else cholespy.

    Attributes
    ----------
    factorizations : int
        Sparse Cholesky factorizations made so far (they are cached and reused).
    backend : str
        The sparse Cholesky backend in use.
    """

    def __init__(self, model: FemModel, *, damping: tuple[float, float] = (0.1, 0.1),
                 compliance_limit: int = 64, warp: bool = True,
                 backend: str | None = None) -> None:
        alpha, beta = (float(v) for v in damping)
        if not (alpha >= 0 and beta >= 0 and np.isfinite(alpha + beta)):
            raise InputError(f"Rayleigh damping (alpha, beta) must be >= 0, got {damping}")
        self.model, self.damping, self.warp = model, (alpha, beta), warp
        self.compliance_limit = int(compliance_limit)
        self._cache = FactorCache(backend=resolve_backend(backend))
        self._matrices: dict[tuple, sp.csr_matrix] = {}
        self.reset()

    @property
    def factorizations(self) -> int:
        return self._cache.count

    @property
    def backend(self) -> str:
        return self._cache.backend

    @property
    def displacement_mm(self) -> np.ndarray:
        """(n, 3) current displacements, mm (a copy)."""
        return self._u.copy()

    @property
    def velocity_mm_s(self) -> np.ndarray:
        """(n, 3) current velocities, mm/s (a copy)."""
        return self._v.copy()

    def prepare(self, dt: float | None = None) -> None:
        """Factorize ahead of time (at load time) the matrix of the quasi-static solver
        (``dt=None``) or of implicit Euler steps of length ``dt``, for the fixed nodes."""
        alpha, beta = self.damping
        mode = ("static",) if dt is None else ("dynamic", float(dt), alpha, beta)
        if mode[0] == "static" and not self.model.fixed.any():
            raise InputError("no fixed nodes: the quasi-static factor depends on the contact set")
        self._linear_solve(mode, np.zeros(0, dtype=np.int64))

    def reset(self) -> None:
        """Back to rest: zero displacement, velocity and static loads (factors are kept)."""
        n = self.model.n_nodes
        self._u, self._v = np.zeros((n, 3)), np.zeros((n, 3))
        self._forces = np.zeros((n, 3))
        self._element_state: fa.ElementState | None = None

    def solve_static(self, prescribed: Prescribed = None, forces_n: np.ndarray | None = None,
                     *, max_iterations: int = 100, tolerance: float = 1e-6,
                     load_steps: int = 1, pcg_iterations: int = 4,
                     max_bisections: int = 6) -> FemState:
        """Quasi-static equilibrium under dead loads and prescribed displacements.

        Parameters
        ----------
        prescribed : dict or (indices, values), optional
            Total displacements (mm, from rest) of contact nodes: instrument push, retract or
            indent. Fixed nodes stay at zero.
        forces_n : (n, 3) float ndarray, optional
            External nodal forces, N (dead loads).
        max_iterations : int
            Newton iterations per load increment.
        tolerance : float
            Relative residual (free-node force imbalance over the largest force norm).
        load_steps : int
            Equal increments from the current state to the new loads; a failing increment is
            bisected up to ``max_bisections`` times.
        pcg_iterations : int
            CG steps on the rotated tangent per Newton iteration (0: modified Newton).

        Returns
        -------
        FemState
            ``converged`` is False (and a :class:`ConvergenceWarning` is issued) when the
            tolerance was not reached; the state then holds the last iterate.
        """
        nodes, target = prescribed_arrays(prescribed, self.model)
        forces = force_array(forces_n, self.model.n_nodes)
        constrained = self.model.fixed.copy()
        constrained[nodes] = True
        if not constrained.any():
            raise InputError("a quasi-static solve needs fixed or prescribed nodes: the body "
                             "is free to float. Fix attachment nodes or prescribe contacts.")
        if load_steps < 1:
            raise InputError(f"load_steps must be >= 1, got {load_steps}")
        solve = self._linear_solve(("static",), nodes)
        start_u, start_f = self._u[nodes].copy(), self._forces.copy()
        done, increment, bisections, iterations = 0.0, 1.0 / load_steps, 0, 0
        while True:
            s = min(1.0, done + increment)
            objective = self._objective(start_f + s * (forces - start_f))
            result = minimize(objective, objective.point(self._u, self._state()), constrained,
                              nodes, start_u + s * (target - start_u), solve,
                              max_iterations=max_iterations, tolerance=tolerance,
                              pcg_iterations=pcg_iterations, warp=self.warp)
            iterations += result.iterations
            stuck = result.residual > max(100.0 * tolerance, 1e-6)
            if not result.converged and stuck and bisections < max_bisections:
                increment, bisections = 0.5 * increment, bisections + 1
                continue
            self._commit(result.point)
            self._forces = start_f + s * (forces - start_f)
            done = s
            if done >= 1.0 or not result.converged:
                break
        self._v = np.zeros_like(self._u)
        if not result.converged:
            warnings.warn(f"quasi-static solve stopped at relative residual "
                          f"{result.residual:.2e} > {tolerance:.0e} after {iterations} "
                          f"iterations (load fraction {done:.2f}): raise load_steps or "
                          "max_iterations", ConvergenceWarning, stacklevel=2)
        return self._result(result, nodes, iterations)

    def step(self, dt: float, prescribed: Prescribed = None,
             forces_n: np.ndarray | None = None, *, max_iterations: int = 1,
             tolerance: float = 1e-3, pcg_iterations: int = 0) -> FemState:
        """One implicit (backward) Euler step of length ``dt`` seconds.

        With the defaults this is one warped solve with the cached factor of
        ``M/dt^2 + C/dt + K0`` (a linearly implicit step, as SOFA's ``EulerImplicitSolver``);
        more ``max_iterations`` iterate Newton with line search to ``tolerance``.
        ``prescribed`` and ``forces_n`` are as in :meth:`solve_static`; the state advances.

        ``converged`` says whether the relative residual reached ``tolerance``. With a single
        solve it is often False while the tissue is pushed fast (1-10 % residuals at large
        strain); the next step starts from the true nonlinear residual of the state, so the
        remainder is corrected over the following steps instead of accumulating
        (physics.md section 5.2, progressive refinement).
        """
        if not (np.isfinite(dt) and dt > 0):
            raise InputError(f"time step must be > 0 s, got {dt}")
        nodes, target = prescribed_arrays(prescribed, self.model)
        forces = force_array(forces_n, self.model.n_nodes)
        constrained = self.model.fixed.copy()
        constrained[nodes] = True
        alpha, beta = self.damping
        state = self._state()
        rotations = None
        if beta > 0 or self.warp:
            rotations = fa.node_rotations(self.model.geometry, state.rotations)
        objective = self._objective(forces, inertia=1.0 / dt**2, mass_damping=alpha / dt,
                                    stiffness_damping=beta / dt, predicted=self._u + dt * self._v,
                                    previous=self._u,
                                    previous_rotations=rotations if beta > 0 else None)
        solve = self._linear_solve(("dynamic", float(dt), alpha, beta), nodes)
        result = minimize(objective, objective.point(self._u, state), constrained, nodes,
                          target, solve, max_iterations=max_iterations, tolerance=tolerance,
                          pcg_iterations=pcg_iterations, warp=self.warp, rotations=rotations)
        velocity = (result.point.displacement - self._u) / dt
        self._commit(result.point)
        self._v = velocity
        return self._result(result, nodes, result.iterations)

    def _state(self) -> fa.ElementState:
        if self._element_state is None:
            model = self.model
            self._element_state = fa.element_state(model.geometry, model.lame_lambda_mpa,
                                                    model.shear_modulus_mpa, self._u)
        return self._element_state

    def _commit(self, point: Point) -> None:
        self._u, self._element_state = point.displacement, point.state

    def _objective(self, forces: np.ndarray, **dynamic) -> Objective:
        model = self.model
        return Objective(model.geometry, model.lame_lambda_mpa, model.shear_modulus_mpa,
                         model.stiffness, model.masses_t, forces,
                         1e-12 * model.force_scale_n, **dynamic)

    def _matrix(self, mode: tuple) -> sp.csr_matrix:
        if mode not in self._matrices:
            k0 = self.model.stiffness
            if mode[0] == "static":
                regular = 1e-10 * float(k0.diagonal().mean())
                matrix = k0 + regular * sp.identity(k0.shape[0], format="csr")
            else:
                _, dt, alpha, beta = mode
                mass = np.repeat(self.model.masses_t, 3) * (1.0 / dt**2 + alpha / dt)
                matrix = (1.0 + beta / dt) * k0 + sp.diags(mass, format="csr")
            if len(self._matrices) >= 4:
                self._matrices.pop(next(iter(self._matrices)))
            self._matrices[mode] = sp.csr_matrix(matrix)
        return self._matrices[mode]

    def _linear_solve(self, mode: tuple, nodes: np.ndarray):
        fixed = self.model.fixed
        compliance = len(nodes) <= self.compliance_limit and (fixed.any() or mode[0] != "static")
        eliminated = fixed.copy()
        if not compliance:
            eliminated[nodes] = True
        key = (mode, np.packbits(eliminated).tobytes())
        factor = self._cache.get(key, lambda: self._matrix(mode), eliminated)
        full = self._matrix(mode)

        def solve(rhs: np.ndarray, values: np.ndarray, rotations: np.ndarray | None
                  ) -> np.ndarray:
            return constrained_solve(factor, rhs, nodes, values, full, rotations)

        return solve

    def _result(self, result: NewtonResult, nodes: np.ndarray, iterations: int) -> FemState:
        point, model = result.point, self.model
        constrained = model.fixed.copy()
        constrained[nodes] = True
        reactions = np.where(constrained[:, None], point.gradient, 0.0)
        vector = reactions[nodes].sum(axis=0)
        magnitude = float(np.linalg.norm(vector))
        area = float(model.nodal_areas_mm2[nodes].sum())
        pressure = 0.0 if len(nodes) == 0 else (
            magnitude / area / MMHG_TO_MPA if area > 0 else float("nan"))
        return FemState(
            displacement_mm=point.displacement.copy(), velocity_mm_s=self._v.copy(),
            max_principal_strain=point.state.max_principal_strain,
            von_mises_kpa=1e3 * point.state.von_mises_mpa,
            reaction_forces_n=reactions, contact_force_vector_n=vector,
            contact_force_n=magnitude, contact_area_mm2=area, contact_pressure_mmhg=pressure,
            iterations=int(iterations), converged=bool(result.converged),
            residual=float(result.residual),
            inverted_elements=int(point.state.inverted.sum()),
            strain_energy_mj=float(point.state.strain_energy_mj))
