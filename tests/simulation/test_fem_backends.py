"""Sparse Cholesky backends of the FEM: scikit-sparse's CHOLMOD and cholespy give the same
solves, the default prefers CHOLMOD and falls back to cholespy when scikit-sparse does not
import."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

from surgiplan.errors import InputError
from surgiplan.simulation import sparse_cholesky
from surgiplan.simulation.fem import CorotationalSolver, FemModel
from surgiplan.simulation.fem_solvers import Factorization
from surgiplan.simulation.materials import Material, MaterialArrays
from tests.simulation.meshes import box

LIVER = Material(youngs_kpa=5.4, poisson=0.45, density_kg_m3=1060.0)


def block_model() -> FemModel:
    """30 x 15 x 15 mm liver block fixed on its x = 0 face."""
    nodes, tets = box((30.0, 15.0, 15.0), (6, 3, 3))
    return FemModel(nodes, tets, MaterialArrays.uniform(LIVER, len(tets)), nodes[:, 0] < 1e-9)


def push_on_top(model: FemModel, depth: float) -> tuple[np.ndarray, np.ndarray]:
    x = model.nodes_mm
    top = np.flatnonzero((x[:, 2] > x[:, 2].max() - 1e-9) & (x[:, 0] > 15.0))
    return top, np.tile([0.0, 0.0, -depth], (len(top), 1))


BOTH_BACKENDS = pytest.mark.skipif(
    set(sparse_cholesky.available_backends()) != set(sparse_cholesky.BACKENDS),
    reason="needs both scikit-sparse (CHOLMOD) and cholespy")


@BOTH_BACKENDS
def test_both_cholesky_backends_give_the_same_solves():
    model = block_model()
    rhs = np.random.default_rng(3).standard_normal((model.n_nodes, 3))
    solutions, states = [], []
    for backend in sparse_cholesky.BACKENDS:
        factor = Factorization(model.stiffness, model.fixed, backend)
        assert factor.backend == backend
        x = factor.solve(rhs)
        residual = (model.stiffness @ x.reshape(-1)).reshape(-1, 3) - rhs
        assert np.abs(residual[~model.fixed]).max() < 1e-9 * np.abs(rhs).max()
        assert not x[model.fixed].any()
        solutions.append(x)
        solver = CorotationalSolver(model, backend=backend)
        assert solver.backend == backend
        for k in range(1, 4):
            state = solver.step(0.02, push_on_top(model, 0.5 * k))
        states.append(state)
    np.testing.assert_allclose(solutions[0], solutions[1], rtol=1e-9,
                               atol=1e-12 * np.abs(solutions[0]).max())
    np.testing.assert_allclose(states[0].displacement_mm, states[1].displacement_mm, atol=1e-9)
    assert states[0].contact_force_n == pytest.approx(states[1].contact_force_n, rel=1e-8)


@pytest.mark.parametrize("backend", sparse_cholesky.available_backends())
def test_cholesky_backends_solve_and_refuse_indefinite_matrices(backend):
    matrix = sp.diags([2.0, 3.0, 4.0]) + sp.diags([1.0, 1.0], 1) + sp.diags([1.0, 1.0], -1)
    factor = sparse_cholesky.factorize(matrix, backend)
    assert factor.backend == backend
    rhs = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    np.testing.assert_allclose(matrix @ factor.solve(rhs), rhs, atol=1e-12)
    np.testing.assert_allclose(matrix @ factor.solve(rhs[:, 0]), rhs[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        sparse_cholesky.factorize(sp.diags([1.0, -1.0, 1.0]), backend)
    with pytest.raises(InputError):
        sparse_cholesky.factorize(matrix, "superlu")


def test_default_cholesky_backend_prefers_cholmod(monkeypatch):
    monkeypatch.delenv("SURGIPLAN_CHOLESKY", raising=False)
    assert sparse_cholesky.default_backend() == sparse_cholesky.available_backends()[0]
    assert CorotationalSolver(block_model()).backend == sparse_cholesky.default_backend()
    monkeypatch.setenv("SURGIPLAN_CHOLESKY", "cholespy")
    assert CorotationalSolver(block_model()).backend == "cholespy"


def test_cholesky_falls_back_to_cholespy_when_scikit_sparse_does_not_import(monkeypatch):
    monkeypatch.delenv("SURGIPLAN_CHOLESKY", raising=False)
    monkeypatch.setitem(sys.modules, "sksparse.cholmod", None)  # import raises ImportError
    sparse_cholesky.available_backends.cache_clear()
    try:
        assert sparse_cholesky.available_backends() == ("cholespy",)
        model = block_model()
        solver = CorotationalSolver(model)
        assert solver.backend == "cholespy"
        state = solver.step(0.02, push_on_top(model, 0.5))
        assert state.contact_force_n > 0
        with pytest.raises(InputError, match="not installed"):
            CorotationalSolver(model, backend="cholmod")
    finally:
        sparse_cholesky.available_backends.cache_clear()
