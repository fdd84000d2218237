"""Deformation benchmark: corotational FEM step rate at about 5k and 20k physics nodes.

Usage::

    python benchmarks/bench_fem.py [--quick] [--steps 60] [--json out.json]

Cases, each measured in a fresh worker process (``--worker CASE``) so peak memory is its own:

- ``sofa_beam``: a clamped beam of 8 x 26 x 8 nodes (1,664 nodes, 6 Kuhn tets per cell,
  70 x 250 x 70 mm, E = 1 MPa) released under gravity: the mesh size of SOFA PR #2842, for a
  comparison with SOFA's published CPU figures (physics.md section 1.3).
- ``liver_5k`` / ``liver_20k``: a liver-sized ellipsoid (semi-axes 90 x 70 x 55 mm, 1.5 mm
  voxels) meshed by ``build_tet_mesh(target_nodes=...)``, attached along its posterior 12 mm
  (fixed nodes), indented on its anterior surface by an instrument patch (the surface nodes
  within 10 mm of the most anterior point) pushed 8 mm posteriorly over the run.

Per case: mesh, element precompute and ``K0`` assembly, factorization (implicit Euler at
dt = 0.02 s, SOFA's liver demo, and quasi-static), then ``--steps`` implicit Euler steps (one
warped solve each, outputs included) with the push ramped, then quasi-static solves of four
2 mm push increments. Rates are ``1 / median step time``. Targets: >= 30 Hz at 5k nodes,
>= 10 Hz at 20k nodes. The sparse Cholesky backend (scikit-sparse's CHOLMOD with the system
BLAS, or cholespy; ``SURGIPLAN_CHOLESKY`` chooses), the BLAS threads and the load average of
the machine are printed with the figures, since step times on a shared machine follow the load.
``--quick`` runs fewer steps and skips the 20k case. The script reports; it exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULT_PREFIX = "BENCH-RESULT "
TARGET_HZ = {"liver_5k": 30.0, "liver_20k": 10.0}
NODE_TARGETS = {"liver_5k": (4500, 5500), "liver_20k": (18000, 22000)}
DT_S = 0.02
PUSH_MM = 8.0
SOFA_FIGURES = [
    ("SOFA TetrahedronFEMForceField (small), CPU", "beam 1,664 nodes", "8.5 s / 1000 steps",
     1000 / 8.5),
    ("SOFA TetrahedralCorotationalFEMForceField, CPU", "beam 1,664 nodes",
     "14.0 s / 1000 steps", 1000 / 14.0),
    ("SOFA FastTetrahedralCorotationalForceField, CPU", "beam 1,664 nodes",
     "5.8 s / 1000 steps", 1000 / 5.8),
    ("Sase et al. 2015, corotational + inversion, GPU", "4,807 nodes / 19,600 tets",
     "< 20 ms / step", 50.0),
    ("Sase et al. 2015, brain retraction, GPU", "8,647 nodes / 32,639 tets", "< 80 ms / step",
     12.5),
]


def code_revision() -> str:
    """Short commit hash plus ``-dirty`` when surgiplan/ has local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                              text=True, capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "surgiplan"],
                               cwd=HERE.parent, text=True, capture_output=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def beam_mesh():
    """Beam of 8 x 26 x 8 nodes (7 x 25 x 7 cells of 10 mm), 6 Kuhn tets per cell."""
    import itertools

    import numpy as np

    shape = (8, 26, 8)
    axes = [np.arange(n) * 10.0 for n in shape]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    eye = np.eye(3, dtype=int)
    kuhn = np.array([[(0, 0, 0), eye[p[0]], eye[p[0]] + eye[p[1]], (1, 1, 1)]
                     for p in itertools.permutations(range(3))])
    cells = np.stack(np.meshgrid(*(np.arange(n - 1) for n in shape), indexing="ij"),
                     axis=-1).reshape(-1, 3)
    corners = cells[:, None, None, :] + kuhn[None]
    tets = np.ravel_multi_index(tuple(np.moveaxis(corners, -1, 0)), shape).reshape(-1, 4)
    p = nodes[tets]
    flip = np.einsum("ij,ij->i", p[:, 1] - p[:, 0],
                     np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0])) < 0
    tets[flip, 1], tets[flip, 2] = tets[flip, 2], tets[flip, 1].copy()
    return nodes, tets


def liver_mesh(target_nodes: tuple[int, int]):
    """Tet mesh of a liver-sized ellipsoid (about 1.45 L) on 1.5 mm voxels, LPS mm."""
    import numpy as np

    from surgiplan.segmentation.region import Region
    from surgiplan.twin.tetmesh import build_tet_mesh

    spacing, semi_axes = 1.5, np.array([90.0, 70.0, 55.0])
    shape = tuple(int(v) for v in np.ceil(2 * semi_axes[::-1] / spacing) + 4)
    k, j, i = np.indices(shape)
    centre = (np.array(shape[::-1]) - 1) / 2 * spacing
    mask = sum(((axis * spacing - c) / r) ** 2
               for axis, c, r in zip((i, j, k), centre, semi_axes, strict=True)) < 1.0
    affine = np.diag([spacing, spacing, spacing, 1.0])
    return build_tet_mesh(Region.from_full_mask(mask), affine, tissue="liver",
                          target_nodes=target_nodes)


def run_case(case: str, steps: int, quick: bool) -> dict[str, Any]:
    """Measure one case in this process; returns every figure."""
    import numpy as np

    from surgiplan.simulation.fem import (
        CorotationalSolver,
        FemModel,
        fixed_nodes_in_box,
        fixed_nodes_near,
        gravity_forces,
    )
    from surgiplan.simulation.materials import Material, MaterialArrays
    from surgiplan.simulation.sparse_cholesky import blas_threads

    baseline = _rss_mb()
    out: dict[str, Any] = {"case": case, "load_start": os.getloadavg()[0]}
    t = time.perf_counter()
    if case == "sofa_beam":
        nodes, tets = beam_mesh()
        materials = MaterialArrays.uniform(Material(1000.0, 0.45, 1000.0), len(tets))
        model = FemModel(nodes, tets, materials, fixed=nodes[:, 1] < 1e-9)
    else:
        mesh = liver_mesh(NODE_TARGETS[case])
        out["mesh_s"] = time.perf_counter() - t
        x = mesh.nodes_lps_mm
        lower, upper = x.min(axis=0) - 1.0, x.max(axis=0) + 1.0
        lower[1] = x[:, 1].max() - 12.0  # posterior attachment band
        fixed = fixed_nodes_in_box(mesh, lower, upper)
        t = time.perf_counter()
        model = FemModel.from_tet_mesh(mesh, fixed=fixed)
    _ = model.stiffness, model.masses_t, model.nodal_areas_mm2
    out.update(nodes=model.n_nodes, tets=model.n_tets, fixed=int(model.fixed.sum()),
               assembly_s=time.perf_counter() - t)
    solver = CorotationalSolver(model)
    t = time.perf_counter()
    solver.prepare(DT_S)
    out["factor_dynamic_s"] = time.perf_counter() - t
    out.update(backend=solver.backend, blas_threads=blas_threads())
    if case == "sofa_beam":
        contact, forces = np.zeros(0, dtype=np.int64), gravity_forces(model, (0, 0, -9810.0))
    else:
        x = model.nodes_mm
        front = x[np.argmin(x[:, 1])]
        contact = np.flatnonzero(fixed_nodes_near(x, front[None], 10.0)
                                 & (model.nodal_areas_mm2 > 0))
        forces = None
    out["contact_nodes"] = len(contact)
    times, states = [], []
    for k in range(steps):
        push = np.tile([0.0, PUSH_MM * (k + 1) / steps, 0.0], (len(contact), 1))
        t = time.perf_counter()
        states.append(solver.step(DT_S, (contact, push), forces))
        times.append(time.perf_counter() - t)
    last = states[-1]
    out.update(step_ms_median=1e3 * float(np.median(times)),
               step_ms_p90=1e3 * float(np.percentile(times, 90)),
               step_hz=1.0 / float(np.median(times)), factorizations=solver.factorizations,
               contact_force_n=last.contact_force_n,
               contact_pressure_mmhg=last.contact_pressure_mmhg,
               max_strain=float(last.max_principal_strain.max()),
               max_von_mises_kpa=float(last.von_mises_kpa.max()),
               inverted=max(s.inverted_elements for s in states),
               step_residual_max=max(s.residual for s in states))
    if case != "sofa_beam" and not (quick and case == "liver_20k"):
        out.update(_quasi_static(solver, contact))
    out["peak_mb"] = _rss_mb() - baseline
    out["load_end"] = os.getloadavg()[0]
    return out


def _quasi_static(solver, contact) -> dict[str, Any]:
    """Quasi-static planning solves: four 2 mm push increments from rest."""
    import numpy as np

    solver.reset()
    t = time.perf_counter()
    solver.prepare(None)
    result: dict[str, Any] = {"factor_static_s": time.perf_counter() - t}
    times, iterations, converged = [], [], []
    for k in range(1, 5):
        push = np.tile([0.0, 2.0 * k, 0.0], (len(contact), 1))
        t = time.perf_counter()
        state = solver.solve_static((contact, push))
        times.append(time.perf_counter() - t)
        iterations.append(state.iterations)
        converged.append(state.converged)
    result.update(static_ms_median=1e3 * float(np.median(times)), static_iterations=iterations,
                  static_converged=all(converged),
                  static_contact_force_n=state.contact_force_n)
    return result


def run_worker(case: str, steps: int, quick: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, "--steps",
           str(steps)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, text=True, capture_output=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    return {"case": case, "error": (proc.stderr or proc.stdout).strip().splitlines()[-5:]}


def report(results: list[dict[str, Any]]) -> None:
    print(f"\nSurgiPlan corotational FEM, {code_revision()}, Python {platform.python_version()}, "
          f"{platform.machine()}")
    print(f"{'case':11} {'nodes':>6} {'tets':>7} {'assembly s':>10} {'factor s':>9} "
          f"{'step ms':>8} {'p90 ms':>7} {'Hz':>6} {'static ms':>9} {'iters':>12} "
          f"{'peak MB':>8} {'backend':>9} {'load':>9}")
    for r in results:
        if "error" in r:
            print(f"{r['case']:11} ERROR {r['error']}")
            continue
        static = (f"{r['static_ms_median']:9.0f} {str(r['static_iterations']):>12}"
                  if "static_ms_median" in r else f"{'-':>9} {'-':>12}")
        print(f"{r['case']:11} {r['nodes']:6d} {r['tets']:7d} {r['assembly_s']:10.2f} "
              f"{r['factor_dynamic_s']:9.1f} {r['step_ms_median']:8.1f} {r['step_ms_p90']:7.1f} "
              f"{r['step_hz']:6.1f} {static} {r['peak_mb']:8.0f} {r['backend']:>9} "
              f"{r['load_start']:4.1f}-{r['load_end']:<4.1f}")
    threads = {r.get("blas_threads") for r in results if "error" not in r} - {None}
    print(f"(load: 1-minute load average at the start and end of each case, {os.cpu_count()} "
          f"cores; OpenBLAS threads of scikit-sparse's CHOLMOD: "
          f"{', '.join(map(str, threads)) or 'not loaded'})")
    print("\nPublished figures (physics.md section 1.3):")
    for name, mesh, figure, hz in SOFA_FIGURES:
        print(f"  {name:48} {mesh:26} {figure:20} ~{hz:5.0f} Hz")
    print("\nTargets:")
    for r in results:
        if r["case"] in TARGET_HZ and "error" not in r:
            target = TARGET_HZ[r["case"]]
            verdict = "PASS" if r["step_hz"] >= target else "FAIL"
            print(f"  {verdict}: {r['case']} implicit Euler step {r['step_hz']:.1f} Hz "
                  f"(target >= {target:.0f} Hz; {r['nodes']} nodes, factorizations "
                  f"{r['factorizations']}, inverted tets {r['inverted']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, no 20k case")
    parser.add_argument("--steps", type=int, default=None, help="implicit Euler steps per case")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (20 if args.quick else 60)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(run_case(args.worker, steps, args.quick)), flush=True)
        return 0
    cases = ["sofa_beam", "liver_5k"] + ([] if args.quick else ["liver_20k"])
    results = []
    for case in cases:
        print(f"measuring {case} ...", flush=True)
        results.append(run_worker(case, steps, args.quick))
    report(results)
    if args.quick:
        print("  (liver_20k skipped with --quick)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
