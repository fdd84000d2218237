"""Analytic validation of the corotational FEM (physics.md section 1.5, T1-T7).

Units: mm, N, MPa. Expected P1 figures from physics.md's benchmark (structured 5-tets-per-cell
meshes): cantilever 88.6 % / 94.2 % of Timoshenko at 40x4x4 / 60x6x6, elastica within 4-5 %
vertically and about 10 % horizontally.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from surgiplan.simulation.fem import (
    CorotationalSolver,
    FemModel,
    gravity_forces,
    surface_nodal_areas,
)
from surgiplan.simulation.fem_assembly import element_state
from surgiplan.simulation.fem_solvers import Factorization
from surgiplan.simulation.materials import MMHG_TO_MPA, Material, MaterialArrays
from tests.simulation.meshes import box, disk_mapped, graded_axis, grid_box

# Cantilever of physics.md T3/T5: L = 0.1 m, h = b = 10 mm, E = 5 kPa, nu = 0.3.
LENGTH, HEIGHT, YOUNGS_KPA, POISSON = 100.0, 10.0, 5.0, 0.3
E_MPA = YOUNGS_KPA * 1e-3
EI = E_MPA * HEIGHT**4 / 12.0
SHEAR = E_MPA / (2 * (1 + POISSON))
KAPPA = 10 * (1 + POISSON) / (12 + 11 * POISSON)


def uniform(nodes: np.ndarray, tets: np.ndarray, youngs_kpa: float, poisson: float,
            fixed: np.ndarray | None = None) -> FemModel:
    materials = MaterialArrays.uniform(Material(youngs_kpa, poisson, 1000.0), len(tets))
    return FemModel(nodes, tets, materials, fixed)


class Cantilever:
    """A clamped beam along x with a tip face; loads in -z."""

    def __init__(self, cells: tuple[int, int, int]) -> None:
        nodes, tets = box((LENGTH, HEIGHT, HEIGHT), cells, (0.0, -HEIGHT / 2, -HEIGHT / 2))
        self.model = uniform(nodes, tets, YOUNGS_KPA, POISSON, fixed=nodes[:, 0] < 1e-9)
        self.solver = CorotationalSolver(self.model)
        self.tip = nodes[:, 0] > LENGTH - 1e-9
        areas = surface_nodal_areas(nodes, tets, self.tip)
        self.tip_share = areas / areas.sum()  # consistent nodal forces of a uniform traction

    def tip_load(self, force_n: float) -> np.ndarray:
        forces = np.zeros((self.model.n_nodes, 3))
        forces[:, 2] = -force_n * self.tip_share
        return forces

    def tip_deflection(self, displacement: np.ndarray) -> tuple[float, float]:
        """Vertical and horizontal (shortening) tip displacement over L."""
        mean = displacement[self.tip].mean(axis=0)
        return -mean[2] / LENGTH, -mean[0] / LENGTH


@pytest.fixture(scope="module")
def beams() -> dict[tuple[int, int, int], Cantilever]:
    return {cells: Cantilever(cells) for cells in ((20, 2, 2), (40, 4, 4), (60, 6, 6))}


# --- T1 patch test ----------------------------------------------------------------------------

def test_t1_uniaxial_traction_is_reproduced_exactly():
    """6x3x3 box, nu = 0.45, traction sigma = 0.2 E on x = L: eps_x = 0.2, eps_lat = -0.09."""
    nu, length = 0.45, 6.0
    nodes, tets = box((length, 3.0, 3.0), (6, 3, 3))
    sigma = 0.2 * E_MPA
    model = uniform(nodes, tets, YOUNGS_KPA, nu)
    end = nodes[:, 0] > length - 1e-9
    forces = np.zeros_like(nodes)
    forces[:, 0] = sigma * surface_nodal_areas(nodes, tets, end)
    start = np.flatnonzero(nodes[:, 0] < 1e-9)
    strain_x, strain_lat = sigma / E_MPA, -nu * sigma / E_MPA
    exact = np.stack([strain_x * nodes[:, 0], strain_lat * (nodes[:, 1] - 1.5),
                      strain_lat * (nodes[:, 2] - 1.5)], axis=1)
    state = CorotationalSolver(model).solve_static((start, exact[start]), forces,
                                                   tolerance=1e-11)
    assert state.converged and state.iterations <= 5
    error = np.abs(state.displacement_mm - exact).max() / np.abs(exact).max()
    assert error < 1e-9
    assert strain_x == pytest.approx(0.2) and strain_lat == pytest.approx(-0.09)
    np.testing.assert_allclose(state.max_principal_strain, 0.2, rtol=1e-9)
    np.testing.assert_allclose(state.von_mises_kpa, sigma * 1e3, rtol=1e-9)


def test_t1_affine_patch_on_a_distorted_mesh_with_rotation():
    """Boundary nodes follow x = Q (I + E) X; the interior nodes must follow exactly."""
    nodes, tets = box((4.0, 4.0, 4.0), (4, 4, 4))
    interior = (np.abs(nodes - 2.0) < 1.9).all(axis=1)
    rng = np.random.default_rng(7)
    nodes[interior] += rng.uniform(-0.25, 0.25, size=(interior.sum(), 3))
    model = uniform(nodes, tets, YOUNGS_KPA, 0.45)
    stretch = np.eye(3) + np.array([[0.05, 0.02, 0.0], [0.02, -0.03, 0.01], [0.0, 0.01, 0.04]])
    q = Rotation.from_rotvec([0.4, -0.7, 1.1]).as_matrix()
    exact = nodes @ (q @ stretch).T - nodes + np.array([3.0, -1.0, 2.0])
    boundary = np.flatnonzero(~interior)
    state = CorotationalSolver(model).solve_static((boundary, exact[boundary]),
                                                   tolerance=1e-11)
    assert state.converged
    error = np.abs(state.displacement_mm - exact)[interior].max() / np.abs(exact).max()
    assert error < 1e-9


# --- T2 rigid-body invariance -----------------------------------------------------------------

@pytest.mark.parametrize("degrees", [30.0, 90.0, 180.0])
def test_t2_rigid_motion_gives_no_internal_forces(degrees):
    nodes, tets = box((6.0, 3.0, 3.0), (6, 3, 3))
    model = uniform(nodes, tets, YOUNGS_KPA, 0.45)
    q = Rotation.from_rotvec(np.radians(degrees) * np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0))
    moved = nodes @ q.as_matrix().T + np.array([10.0, -20.0, 5.0]) - nodes
    state = element_state(model.geometry, model.lame_lambda_mpa, model.shear_modulus_mpa,
                          moved)
    h = 1.0  # element size, mm
    assert np.abs(state.internal_forces).max() < 1e-9 * E_MPA * h**2
    assert state.strain_energy_mj < 1e-25
    # Small-strain (linear) FEM fails this test: K0 u gives forces of order E h^2.
    linear = np.abs(model.stiffness @ moved.reshape(-1)).max()
    assert linear > 0.1 * E_MPA * h**2


# --- T3 / T4 cantilever -----------------------------------------------------------------------

def timoshenko_tip(force_n: float) -> float:
    return (force_n * LENGTH**3 / (3 * EI)
            + force_n * LENGTH / (KAPPA * SHEAR * HEIGHT**2))


def test_t3_cantilever_tip_load_converges_to_timoshenko(beams):
    force = 1e-4 * EI / LENGTH**2  # alpha = 1e-4: linear range
    ratios = {}
    for cells, beam in beams.items():
        beam.solver.reset()
        state = beam.solver.solve_static(None, beam.tip_load(force), tolerance=1e-9)
        assert state.converged
        ratios[cells] = beam.tip_deflection(state.displacement_mm)[0] * LENGTH / (
            timoshenko_tip(force))
    assert timoshenko_tip(1e-4) == pytest.approx(8.061, abs=1e-3)  # physics.md's figure
    assert ratios[(20, 2, 2)] < ratios[(40, 4, 4)] < ratios[(60, 6, 6)] < 1.0  # monotone
    assert 0.85 <= ratios[(40, 4, 4)] <= 0.92  # physics.md: 88.6 %
    assert ratios[(60, 6, 6)] >= 0.92  # within 8 % at 6 elements through the thickness


def test_t4_cantilever_self_weight(beams):
    gravity = np.array([0.0, 0.0, -9810.0e-5])  # scaled down: linear range
    ratios = []
    for cells in ((40, 4, 4), (60, 6, 6)):
        beam = beams[cells]
        beam.solver.reset()
        forces = gravity_forces(beam.model, gravity)
        state = beam.solver.solve_static(None, forces, tolerance=1e-9)
        q = -forces[:, 2].sum() / LENGTH  # N/mm
        exact = q * LENGTH**4 / (8 * EI) + q * LENGTH**2 / (2 * KAPPA * SHEAR * HEIGHT**2)
        ratios.append(beam.tip_deflection(state.displacement_mm)[0] * LENGTH / exact)
    assert 0.85 <= ratios[0] <= 0.93 and ratios[0] < ratios[1] < 1.0
    assert ratios[1] >= 0.92


# --- T5 large-deflection elastica -------------------------------------------------------------

ELASTICA = {0.5: (0.1621, 0.0159), 1.0: (0.3017, 0.0564), 3.0: (0.6032, 0.2544)}
"""alpha = P L^2 / EI -> (vertical, horizontal) tip displacement / L (Bisshopp & Drucker)."""


def test_t5_elastica_large_deflection(beams):
    beam = beams[(60, 6, 6)]
    beam.solver.reset()
    for alpha, (vertical, horizontal) in ELASTICA.items():
        state = beam.solver.solve_static(None, beam.tip_load(alpha * EI / LENGTH**2),
                                         tolerance=1e-7)
        assert state.converged and state.inverted_elements == 0
        fe_vertical, fe_horizontal = beam.tip_deflection(state.displacement_mm)
        assert fe_vertical == pytest.approx(vertical, rel=0.06), alpha
        assert fe_horizontal == pytest.approx(horizontal, rel=0.12), alpha


def test_t5_linear_fem_misses_the_horizontal_shortening(beams):
    beam = beams[(60, 6, 6)]
    factor = Factorization(beam.model.stiffness, beam.model.fixed)
    displacement = factor.solve(beam.tip_load(1.0 * EI / LENGTH**2))
    vertical, horizontal = beam.tip_deflection(displacement)
    assert vertical > 0.3  # about alpha / 3, no stiffening
    assert abs(horizontal) < 0.12 * ELASTICA[1.0][1]  # fails the 12 % band by far


# --- T6 flat-punch indentation ----------------------------------------------------------------

@pytest.mark.slow  # about 10 s: a 15k-node graded mesh
def test_t6_flat_punch_force_and_pressure():
    """Rigid flat punch (radius a = 5 mm) pushed d = 0.05 a into a cylinder of radius and depth
    20 a (bottom clamped, sides free), graded mesh of spacing a/4 under the punch whose rim
    nodes lie on r = a. F = 2 a E* d (Sneddon) with a the punch radius of the discrete contact:
    sqrt(tributary area / pi), which the pressure output uses too. nu = 0.45, where bonded
    and frictionless punches differ by 0.3 %."""
    a, depth, nu = 5.0, 0.25, 0.45
    xy = graded_axis(20 * a, a / 4, 1.5 * a, 1.4)
    down = graded_axis(20 * a, a / 4, 1.5 * a, 1.4)
    nodes, tets = grid_box(xy, xy, -np.sort(down[down >= 0])[::-1])
    nodes = disk_mapped(nodes)
    model = uniform(nodes, tets, YOUNGS_KPA, nu, fixed=nodes[:, 2] < -20 * a + 1e-9)
    top = np.abs(nodes[:, 2]) < 1e-9
    punch = np.flatnonzero(top & (np.hypot(nodes[:, 0], nodes[:, 1]) <= a * (1 + 1e-9)))
    solver = CorotationalSolver(model, compliance_limit=32)
    state = solver.solve_static((punch, np.tile([0.0, 0.0, -depth], (len(punch), 1))),
                                tolerance=1e-8)
    assert state.converged
    radius = np.sqrt(state.contact_area_mm2 / np.pi)
    e_star = E_MPA / (1 - nu**2)
    assert state.contact_force_vector_n[2] < 0  # the punch pushes down
    assert state.contact_force_n == pytest.approx(2 * radius * e_star * depth, rel=0.10)
    mean_pressure = 2 * e_star * depth / (np.pi * radius)  # F / (pi a^2), MPa
    assert state.contact_pressure_mmhg == pytest.approx(mean_pressure / MMHG_TO_MPA, rel=0.10)
    # Global equilibrium: the clamp holds what the punch pushes.
    total = state.reaction_forces_n.sum(axis=0)
    assert np.abs(total).max() < 1e-6 * state.contact_force_n


# --- T7 dynamics ------------------------------------------------------------------------------

def test_t7_free_vibration_period_and_no_energy_gain(beams):
    """Implicit Euler, dt = T/100, no Rayleigh damping: the tip oscillates at the first bending
    frequency f1 = 1.8751^2/(2 pi) sqrt(EI / (rho A L^4)), corrected for the P1 bending
    stiffness by the measured static ratio (sqrt(delta_exact / delta_FE), Rayleigh quotient),
    within 5 %; the total energy never grows (implicit Euler only dissipates)."""
    beam = Cantilever((20, 2, 2))
    solver = CorotationalSolver(beam.model, damping=(0.0, 0.0))
    force = 0.05 * EI / LENGTH**2
    start = solver.solve_static(None, beam.tip_load(force), tolerance=1e-10)
    stiffness_ratio = timoshenko_tip(force) / (beam.tip_deflection(start.displacement_mm)[0]
                                               * LENGTH)
    rho_a = 1000.0 * 1e-12 * HEIGHT**2
    f1 = 1.8751**2 / (2 * np.pi) * np.sqrt(EI / (rho_a * LENGTH**4)) * np.sqrt(stiffness_ratio)
    dt = 1.0 / f1 / 100
    heights, energies = [], []
    for _ in range(300):
        state = solver.step(dt)
        heights.append(-beam.tip_deflection(state.displacement_mm)[0])
        kinetic = 0.5 * np.sum(beam.model.masses_t[:, None] * state.velocity_mm_s**2)
        energies.append(kinetic + state.strain_energy_mj)
    z = np.asarray(heights)
    crossings = np.flatnonzero(np.diff(np.sign(z)) != 0)
    times = (crossings + z[crossings] / (z[crossings] - z[crossings + 1])) * dt
    period = 2 * np.mean(np.diff(times))
    assert period == pytest.approx(1.0 / f1, rel=0.05)
    assert np.all(np.diff(energies) <= 1e-12 * energies[0])
    assert energies[-1] < 0.5 * energies[0]
