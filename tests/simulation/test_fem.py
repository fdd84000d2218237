"""Corotational FEM building blocks: materials, element kernels, constraints, factor reuse,
implicit Euler, contact outputs, boundary helpers, deformed surfaces."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from surgiplan.errors import InputError
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.simulation import fem_assembly as fa
from surgiplan.simulation.deformed import deformed_surface
from surgiplan.simulation.fem import (
    ConvergenceWarning,
    CorotationalSolver,
    FemModel,
    fixed_nodes_in_box,
    fixed_nodes_near,
    gravity_forces,
)
from surgiplan.simulation.materials import (
    MMHG_TO_MPA,
    Material,
    MaterialArrays,
    lame_parameters,
    materials_for,
    youngs_poisson,
)
from surgiplan.twin.builder import TwinOptions, build_twin
from surgiplan.twin.tetmesh import TetMesh
from tests.simulation.meshes import box

LIVER = Material(youngs_kpa=5.4, poisson=0.45, density_kg_m3=1060.0)


def block_model(cells=(6, 3, 3), size=(30.0, 15.0, 15.0), fixed_side=True) -> FemModel:
    nodes, tets = box(size, cells)
    fixed = nodes[:, 0] < 1e-9 if fixed_side else None
    return FemModel(nodes, tets, MaterialArrays.uniform(LIVER, len(tets)), fixed)


def batch(matrices: np.ndarray) -> np.ndarray:
    """(k, 3, 3) -> (3, 3, k)."""
    return np.ascontiguousarray(np.transpose(matrices, (1, 2, 0)))


# --- materials --------------------------------------------------------------------------------

def test_material_units_and_lame_round_trip():
    assert LIVER.youngs_mpa == pytest.approx(5.4e-3)
    assert LIVER.density_t_mm3 == pytest.approx(1.06e-9)
    assert LIVER.shear_modulus_kpa == pytest.approx(5.4 / 2.9)
    assert LIVER.plane_strain_modulus_kpa == pytest.approx(5.4 / (1 - 0.45**2))
    assert MMHG_TO_MPA * 1e6 == pytest.approx(133.322)
    lam, mu = lame_parameters(np.array([5.0, 100.0]), np.array([0.3, 0.45]))
    youngs, nu = youngs_poisson(lam, mu)
    np.testing.assert_allclose(youngs, [5.0, 100.0])
    np.testing.assert_allclose(nu, [0.3, 0.45])
    shear_wave = Material.from_lame(LIVER.lame_lambda_kpa, LIVER.shear_modulus_kpa, 1060.0)
    assert shear_wave.youngs_kpa == pytest.approx(5.4) and shear_wave.poisson == pytest.approx(0.45)
    assert Material.of_tissue("liver") == LIVER


@pytest.mark.parametrize("values", [(0.0, 0.45, 1000.0), (5.0, 0.5, 1000.0),
                                    (5.0, 0.45, -1.0), (float("nan"), 0.3, 1000.0)])
def test_bad_materials_are_refused(values):
    with pytest.raises(InputError):
        Material(*values)


def test_materials_for_uses_the_tissue_table_and_user_overrides():
    nodes, tets = box((2.0, 1.0, 1.0), (2, 1, 1))
    codes = (np.arange(len(tets)) >= len(tets) // 2).astype(np.int32)
    mesh = TetMesh(nodes, tets, "merged", tet_tissue=codes, tissue_names=("liver", "tumour"))
    arrays = materials_for(mesh)
    assert arrays.youngs_mpa[codes == 0] == pytest.approx(5.4e-3)
    assert arrays.youngs_mpa[codes == 1] == pytest.approx(23.4e-3)
    stiff = Material(50.0, 0.4, 1100.0)
    arrays = materials_for(mesh, {"tumour": stiff})
    assert arrays.youngs_mpa[codes == 1] == pytest.approx(0.05)
    assert arrays.poisson[codes == 1] == pytest.approx(0.4)
    assert arrays.density_t_mm3[codes == 0] == pytest.approx(1.06e-9)
    with pytest.raises(InputError, match="Material"):
        materials_for(mesh, {"tumour": 50.0})
    bone = TetMesh(nodes, tets, "bone")
    with pytest.raises(InputError, match="rigid"):
        materials_for(bone)
    assert materials_for(bone, {"bone": stiff}).youngs_mpa[0] == pytest.approx(0.05)


# --- element kernels --------------------------------------------------------------------------

def test_rest_stiffness_is_symmetric_with_rigid_null_space():
    model = block_model(fixed_side=False)
    k = model.stiffness
    assert abs(k - k.T).max() < 1e-15 * abs(k).max()
    x = model.nodes_mm
    modes = [np.tile(axis, (len(x), 1)) for axis in np.eye(3)]
    modes += [np.cross(axis, x - x.mean(axis=0)) for axis in np.eye(3)]
    for mode in modes:
        assert np.abs(k @ mode.reshape(-1)).max() < 1e-12 * abs(k).max() * np.abs(mode).max()
    assert model.geometry.volumes_mm3.sum() == pytest.approx(30.0 * 15.0 * 15.0)
    np.testing.assert_allclose(model.geometry.gradients.sum(axis=0), 0.0, atol=1e-14)
    assert model.masses_t.sum() == pytest.approx(1.06e-9 * 30 * 15 * 15)


def test_polar_rotations_are_proper_and_match_svd():
    rng = np.random.default_rng(0)
    f = np.eye(3) + 0.3 * rng.standard_normal((500, 3, 3))
    f[:5] = -f[:5]  # inverted elements (det < 0)
    f[5] = np.diag([1.0, 1.0, 0.0])  # flat element
    rotations, inverted = fa.polar_rotations(batch(f))
    r = np.transpose(rotations, (2, 0, 1))
    np.testing.assert_allclose(r @ np.transpose(r, (0, 2, 1)), np.tile(np.eye(3), (500, 1, 1)),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    assert inverted[:6].all() and not inverted[6:][np.linalg.det(f[6:]) > 0].any()
    u, _, vt = np.linalg.svd(f)
    ok = np.linalg.det(f) > 0
    np.testing.assert_allclose(r[ok], (u @ vt)[ok], atol=1e-12)
    # S = R^T F is symmetric: the corotated strain needs no symmetrisation.
    s = np.transpose(r, (0, 2, 1)) @ f
    np.testing.assert_allclose(s[ok], np.transpose(s, (0, 2, 1))[ok], atol=1e-12)


def test_polar_rotations_of_mixed_strains_match_svd():
    """Small-strain tets converge first and leave the iteration; large stretches go on."""
    rng = np.random.default_rng(4)
    turns = Rotation.random(600, random_state=5).as_matrix()
    stretch = np.eye(3) + 1e-4 * rng.standard_normal((600, 3, 3))
    stretch[::6] = np.diag([4.0, 0.3, 1.5]) + 0.05 * rng.standard_normal((100, 3, 3))
    f = turns @ stretch
    rotations, inverted = fa.polar_rotations(batch(f))
    assert not inverted.any()
    u, _, vt = np.linalg.svd(f)
    np.testing.assert_allclose(np.transpose(rotations, (2, 0, 1)), u @ vt, atol=1e-12)


def test_forces_are_the_energy_gradient_and_the_tangent_its_hessian():
    model = block_model(cells=(4, 3, 3), size=(10.0, 5.0, 5.0), fixed_side=False)
    rng = np.random.default_rng(1)
    x = model.nodes_mm
    q = Rotation.from_rotvec([0.3, 1.0, -0.5]).as_matrix()
    u = x @ q.T - x + 0.05 * rng.standard_normal(x.shape)
    args = (model.geometry, model.lame_lambda_mpa, model.shear_modulus_mpa)
    state = fa.element_state(*args, u)
    p, h = rng.standard_normal(x.shape), 1e-6
    plus, minus = fa.element_state(*args, u + h * p), fa.element_state(*args, u - h * p)
    slope = (plus.strain_energy_mj - minus.strain_energy_mj) / (2 * h)
    assert slope == pytest.approx(fa.dot(state.internal_forces, p), rel=1e-6)
    difference = (plus.internal_forces - minus.internal_forces) / (2 * h)
    consistent = fa.tangent_product(*args, state.rotations, p, state.strain)
    assert np.abs(consistent - difference).max() < 1e-7 * np.abs(difference).max()
    rotated = fa.tangent_product(*args, state.rotations, p)
    assert np.abs(rotated - difference).max() > 1e-4 * np.abs(difference).max()
    other = rng.standard_normal(x.shape)
    assert fa.dot(other, consistent) == pytest.approx(
        fa.dot(p, fa.tangent_product(*args, state.rotations, other, state.strain)), rel=1e-10)


def test_strain_and_stress_measures():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((200, 3, 3))
    a = a + np.transpose(a, (0, 2, 1))
    a[0] = np.diag([0.2, -0.09, -0.09])
    np.testing.assert_allclose(fa.max_principal(batch(a)), np.linalg.eigvalsh(a)[:, -1],
                               atol=1e-12)
    # uniaxial stress sigma: von Mises = sigma
    youngs, nu, sigma = 5e-3, 0.45, 1e-3
    strain = np.diag([sigma / youngs, -nu * sigma / youngs, -nu * sigma / youngs])
    shear = youngs / (2 * (1 + nu))
    assert fa.von_mises(batch(strain[None]), np.array([shear]))[0] == pytest.approx(sigma)
    shears = rng.uniform(1e-3, 1e-2, 200)
    deviator = a - np.trace(a, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3
    expected = 2 * shears * np.sqrt(1.5 * np.einsum("mij,mij->m", deviator, deviator))
    np.testing.assert_allclose(fa.von_mises(batch(a), shears), expected, rtol=1e-12)


# --- constraints, factorizations, contact -----------------------------------------------------

def push_on_top(model: FemModel, depth: float) -> tuple[np.ndarray, np.ndarray]:
    x = model.nodes_mm
    top = np.flatnonzero((x[:, 2] > x[:, 2].max() - 1e-9) & (x[:, 0] > 15.0))
    return top, np.tile([0.0, 0.0, -depth], (len(top), 1))


def test_compliance_and_elimination_give_the_same_equilibrium():
    results = []
    for limit in (0, 64):  # 0: contact nodes eliminated in their own factor
        model = block_model()
        solver = CorotationalSolver(model, compliance_limit=limit)
        state = solver.solve_static(push_on_top(model, 3.0), tolerance=1e-10)
        assert state.converged
        results.append(state)
    np.testing.assert_allclose(results[0].displacement_mm, results[1].displacement_mm,
                               atol=1e-8)
    assert results[0].contact_force_n == pytest.approx(results[1].contact_force_n, rel=1e-7)


def test_contact_force_balances_the_attachments_and_gives_pressure():
    model = block_model()
    nodes, values = push_on_top(model, 2.0)
    state = CorotationalSolver(model).solve_static((nodes, values), tolerance=1e-10)
    reactions = state.reaction_forces_n
    np.testing.assert_allclose(state.contact_force_vector_n, reactions[nodes].sum(axis=0))
    np.testing.assert_allclose(reactions[model.fixed].sum(axis=0),
                               -state.contact_force_vector_n, atol=1e-10)
    free = ~model.fixed
    free[nodes] = False
    assert not reactions[free].any()
    assert state.contact_force_vector_n[2] < 0 < state.contact_force_n
    area = model.nodal_areas_mm2[nodes].sum()
    assert state.contact_area_mm2 == pytest.approx(area)
    assert state.contact_pressure_mmhg == pytest.approx(
        state.contact_force_n / area / MMHG_TO_MPA)
    np.testing.assert_allclose(state.displacement_mm[nodes], values)
    np.testing.assert_allclose(state.displacement_mm[model.fixed], 0.0)
    assert state.max_principal_strain.shape == state.von_mises_kpa.shape == (model.n_tets,)
    assert state.max_principal_strain.max() > 0 and state.von_mises_kpa.max() > 0


def test_factorization_is_reused_across_steps_and_contact_changes():
    model = block_model()
    solver = CorotationalSolver(model)
    x = model.nodes_mm
    top = np.flatnonzero(x[:, 2] > x[:, 2].max() - 1e-9)
    for k in range(12):  # an instrument sliding over the top face, pressing 1 mm
        touched = top[(x[top, 0] > 5.0 + 2.0 * k) & (x[top, 0] < 15.0 + 2.0 * k)]
        state = solver.step(0.02, (touched, np.tile([0.0, 0.0, -1.0], (len(touched), 1))))
        assert state.contact_force_n > 0
    assert solver.factorizations == 1
    solver.solve_static(None, None)
    solver.solve_static(push_on_top(model, 1.0))
    assert solver.factorizations == 2  # one for implicit Euler at dt, one quasi-static
    solver.step(0.01)
    assert solver.factorizations == 3  # a new time step is a new matrix
    solver.prepare(0.02)
    assert solver.factorizations == 3  # still cached


def test_large_push_converges_with_line_search():
    model = block_model()
    state = CorotationalSolver(model).solve_static(push_on_top(model, 10.0), tolerance=1e-8)
    assert state.converged and state.inverted_elements == 0
    assert state.max_principal_strain.max() > 0.2


def test_non_convergence_is_flagged_not_silent():
    model = block_model()
    solver = CorotationalSolver(model)
    with pytest.warns(ConvergenceWarning):
        state = solver.solve_static(push_on_top(model, 10.0), tolerance=1e-14,
                                    max_iterations=1, max_bisections=0)
    assert not state.converged and state.residual > 1e-14


# --- implicit Euler ---------------------------------------------------------------------------

def test_a_resting_mesh_stays_at_rest():
    model = block_model()
    solver = CorotationalSolver(model)
    for _ in range(5):
        state = solver.step(0.02)
    assert not state.displacement_mm.any() and not state.velocity_mm_s.any()
    assert state.converged and state.contact_force_n == 0.0


def test_damped_free_vibration_decays():
    model = block_model(cells=(8, 2, 2), size=(40.0, 10.0, 10.0))
    solver = CorotationalSolver(model, damping=(0.5, 0.001))
    tip = model.nodes_mm[:, 0] > 40.0 - 1e-9
    forces = np.zeros((model.n_nodes, 3))
    forces[tip, 2] = -2e-4 / tip.sum()
    solver.solve_static(None, forces)
    heights, energies = [], []
    for _ in range(200):
        state = solver.step(0.01)
        heights.append(state.displacement_mm[tip, 2].mean())
        kinetic = 0.5 * np.sum(model.masses_t[:, None] * state.velocity_mm_s**2)
        energies.append(kinetic + state.strain_energy_mj)
    heights = np.abs(np.asarray(heights))
    assert np.all(np.diff(energies) <= 1e-12 * energies[0])
    assert heights[-20:].max() < 0.2 * heights[:20].max()


def test_prescribed_rigid_rotation_is_followed_without_stress():
    model = block_model(fixed_side=False)
    x = model.nodes_mm
    boundary = np.flatnonzero(model.nodal_areas_mm2 > 0)
    q = Rotation.from_rotvec([0.0, 0.0, np.radians(60.0)]).as_matrix()
    target = x[boundary] @ q.T - x[boundary]
    solver = CorotationalSolver(model)
    state = solver.solve_static((boundary, target), tolerance=1e-10)
    np.testing.assert_allclose(state.displacement_mm, x @ q.T - x, atol=1e-8)
    assert state.von_mises_kpa.max() < 1e-9 and state.contact_force_n < 1e-12


# --- inputs and helpers -----------------------------------------------------------------------

def test_bad_inputs_are_refused():
    model = block_model()
    solver = CorotationalSolver(model)
    fixed = np.flatnonzero(model.fixed)[:2]
    with pytest.raises(InputError, match="fixed"):
        solver.solve_static((fixed, np.zeros((2, 3))))
    with pytest.raises(InputError, match="unique"):
        solver.solve_static(([5, 5], np.zeros((2, 3))))
    with pytest.raises(InputError):
        solver.solve_static({10_000: (0.0, 0.0, 1.0)})
    with pytest.raises(InputError, match="forces_n"):
        solver.solve_static(None, np.zeros((3, 3)))
    with pytest.raises(InputError, match="time step"):
        solver.step(0.0)
    with pytest.raises(InputError, match="damping"):
        CorotationalSolver(model, damping=(-1.0, 0.0))
    with pytest.raises(InputError, match="float"):
        CorotationalSolver(block_model(fixed_side=False)).solve_static()
    nodes, tets = box((1.0, 1.0, 1.0), (1, 1, 1))
    with pytest.raises(InputError, match="non-positive volume"):
        FemModel(nodes, tets[:, [0, 2, 1, 3]], MaterialArrays.uniform(LIVER, len(tets)))
    with pytest.raises(InputError, match="materials"):
        FemModel(nodes, tets, MaterialArrays.uniform(LIVER, 2))
    dict_state = solver.solve_static({int(np.flatnonzero(~model.fixed)[-1]): (0.0, 0.0, -0.5)})
    assert dict_state.converged


def test_fixed_node_helpers_and_gravity():
    model = block_model()
    x = model.nodes_mm
    near = fixed_nodes_near(x, np.array([[0.0, 0.0, 0.0], [30.0, 15.0, 15.0]]), 5.0)
    distance = np.minimum(np.linalg.norm(x, axis=1), np.linalg.norm(x - [30, 15, 15], axis=1))
    np.testing.assert_array_equal(near, distance <= 5.0)
    assert not fixed_nodes_near(x, np.zeros((0, 3)), 5.0).any()
    inside = fixed_nodes_in_box(x, (0.0, 0.0, 0.0), (10.0, 15.0, 5.0))
    np.testing.assert_array_equal(inside, (x[:, 0] <= 10) & (x[:, 2] <= 5))
    with pytest.raises(InputError):
        fixed_nodes_in_box(x, (1.0, 0.0, 0.0), (0.0, 1.0, 1.0))
    weight = gravity_forces(model, (0.0, 9810.0, 0.0))
    np.testing.assert_allclose(weight.sum(axis=0), [0.0, model.masses_t.sum() * 9810.0, 0.0])


# --- deformed render surface ------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_twin():
    shape = (30, 30, 30)
    labels = LabelMap.empty_like(shape, np.eye(4))
    k, j, i = np.indices(shape)
    ball = (i - 15) ** 2 + (j - 15) ** 2 + (k - 15) ** 2 <= 11**2
    rib = np.zeros(shape, dtype=bool)
    rib[2:5, 2:5, 2:5] = True
    labels.add(Region.from_full_mask(ball), StructureInfo(0, "liver", tissue="liver"))
    labels.add(Region.from_full_mask(rib), StructureInfo(0, "rib", tissue="bone"))
    return build_twin(labels, options=TwinOptions(tet_nodes=(300, 900)))


def test_deformed_surface_follows_the_fem(small_twin):
    liver = small_twin.structure("liver")
    mesh = liver.physics.tet_mesh
    rest = deformed_surface(liver, np.zeros((mesh.n_nodes, 3)))
    np.testing.assert_array_equal(rest.vertices_lps_mm, liver.surface.vertices_lps_mm)
    np.testing.assert_array_equal(rest.faces, liver.surface.faces)
    x = mesh.nodes_lps_mm
    fixed = fixed_nodes_in_box(mesh, x.min(axis=0) - 1, (x[:, 0].min() + 3, 99.0, 99.0))
    model = FemModel.from_tet_mesh(mesh, fixed=fixed)
    pole = x[np.argmax(x[:, 0])]
    touched = np.flatnonzero(fixed_nodes_near(mesh, pole[None], 4.0))
    state = CorotationalSolver(model).solve_static(
        (touched, np.tile([-3.0, 0.0, 0.0], (len(touched), 1))))
    assert state.converged and 0 < state.contact_pressure_mmhg < np.inf
    moved = deformed_surface(liver, state.displacement_mm)
    shift = moved.vertices_lps_mm - liver.surface.vertices_lps_mm
    near_pole = np.linalg.norm(liver.surface.vertices_lps_mm - pole, axis=1) < 3.0
    assert shift[near_pole, 0].mean() < -2.0  # pushed in, like the nodes under the tool
    with pytest.raises(InputError, match="one row per physics node"):
        deformed_surface(liver, np.zeros((3, 3)))
    with pytest.raises(InputError, match="no physics mesh"):
        deformed_surface(small_twin.structure("rib"), np.zeros((3, 3)))
