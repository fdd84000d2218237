"""Twin benchmark: CT -> surface chain vs scikit-image marching cubes + VTK decimation; tet meshes.

Usage::

    python benchmarks/bench_twin.py [--quick] [--json out.json] [--runs 3] [--cases ...]

Surface chain, per structure, from the loaded volume: threshold -> clean-up -> surface ->
smoothing -> decimation to 200k triangles (SurgiPlan), side by side with the same threshold and
clean-up followed by ``skimage.measure.marching_cubes`` + ``vtkQuadricDecimation`` (the issue's
baseline), and that baseline with SurgiPlan's windowed-sinc smoothing added. Structures: lungs and
body (skin) of the chest CT ``../shared/data/chest_ct_lidc0314`` (skipped when absent) and the
lungs of the 512x512x400 synthetic CT (``--quick``: 100 slices). Tet meshes: time and element
quality of those structures, plus TotalSegmentator organs of ``../shared/data/abdomen_ct_totalseg``
imported with ``import_label_map``: liver and spleen onto its 20-slice DICOM grid (the kidneys are
not in those slices) and liver, spleen and kidneys onto its 3 mm NIfTI CT.

Every measurement runs in a fresh worker process (``--worker KIND METHOD SPEC``), pinned to
``--cores`` CPUs when the machine has more. One warm-up run per case (page cache, libraries),
then ``--runs`` timed runs of SurgiPlan and ``--baseline-runs`` of each baseline (best kept),
then one extra run whose process-tree PSS is sampled by this (parent) process. The script
reports; it never fails the build (exit code 0 unless it crashes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import twin_methods  # noqa: E402
from bench_import import code_revision  # noqa: E402
from import_methods import _descendants, _pss_kb  # noqa: E402
from synthetic_series import ensure_synthetic  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHEST = SHARED_DATA / "chest_ct_lidc0314"
ABDOMEN = SHARED_DATA / "abdomen_ct_totalseg"
WORK_DIR = HERE / "_work"
MESH_DIR = WORK_DIR / "twin_meshes"
RESULT_PREFIX = "BENCH-RESULT "
BUDGET = 200_000
TARGET_SPEED_RATIO = 1 / 3  # surgiplan time / skimage-vtk time
TARGET_ORGAN_SECONDS = 3.0  # whole chain of one organ, 2 cores
ABDOMEN_LABELS = {"liver": 5, "spleen": 1, "kidney_right": 2, "kidney_left": 3}
SAMPLE_S, RESCAN_S = 0.005, 0.1  # PSS poll interval; descendant rescan interval
BASE, FAIR = "skimage-vtk", "skimage-sinc-vtk"


def source_digest() -> str:
    """SHA-1 of the measured code (imaging, segmentation, twin): detects edits during a run."""
    sha = hashlib.sha1()
    for path in sorted((HERE.parent / "surgiplan").glob("*/*.py")):
        if path.parent.name in ("imaging", "segmentation", "twin"):
            sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()[:10]


def mesh_distance(a: Path, b: Path) -> dict[str, float] | None:
    """Symmetric vertex-to-surface distances (mm) between two saved meshes."""
    import numpy as np
    import vtk
    from vtk.util import numpy_support

    if not a.is_file() or not b.is_file():
        return None
    meshes = [np.load(path) for path in (a, b)]
    dist = vtk.vtkDistancePolyDataFilter()
    dist.SignedDistanceOff()
    dist.ComputeSecondDistanceOn()
    for port, mesh in enumerate(meshes):
        dist.SetInputData(port, twin_methods.polydata(mesh["points"], mesh["faces"]))
    dist.Update()
    d = np.abs(np.concatenate([numpy_support.vtk_to_numpy(
        dist.GetOutput(port).GetPointData().GetArray("Distance")) for port in (0, 1)]))
    return {"mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": float(d.max())}


def cases(quick: bool, wanted: list[str] | None, sinc: bool) -> list[dict[str, Any]]:
    """Every (kind, name, spec, methods) to measure; synthetic body surface only on request."""
    out: list[dict[str, Any]] = []
    methods = twin_methods.SURFACE_METHODS if sinc else twin_methods.SURFACE_METHODS[:2]
    n = 100 if quick else 400
    sources = []
    if CHEST.is_dir():
        sources.append(("chest_ct_lidc0314", str(CHEST)))
    else:
        print(f"note: {CHEST} not found, skipping the real chest CT")
    sources.append((f"synthetic{n}", str(ensure_synthetic(WORK_DIR, n)["uncompressed"])))
    for dataset, folder in sources:
        for preset in ("lung", "skin"):
            spec = {"folder": folder, "preset": preset}
            name = f"{dataset} {preset}"
            optional = dataset.startswith("synthetic") and preset == "skin"
            if not optional or (wanted and any(w in name for w in wanted)):
                out.append({"kind": "surface", "name": name, "spec": spec, "methods": methods})
            out.append({"kind": "tet", "name": name, "spec": spec, "methods": ("surgiplan",)})
    for dataset, source, labels, organs in (
            ("abdomen_dicom", {"folder": str(ABDOMEN / "dicom")},
             ABDOMEN / "labels_on_dicom_grid.nii.gz", ("liver", "spleen")),
            ("abdomen_3mm", {"volume_file": str(ABDOMEN / "ct_3mm.nii.gz")},
             ABDOMEN / "labels_3mm.nii.gz", tuple(ABDOMEN_LABELS))):
        if not labels.is_file():
            print(f"note: {labels} not found, skipping {dataset}")
            continue
        for organ in organs:
            spec = {**source, "labels": str(labels), "label": ABDOMEN_LABELS[organ]}
            out.append({"kind": "tet", "name": f"{dataset} {organ}", "spec": spec,
                        "methods": ("surgiplan",)})
    if wanted:
        out = [c for c in out if any(w in c["name"] or w == c["kind"] for w in wanted)]
    return out


def _sample_tree(proc: subprocess.Popen, timeout: float) -> list[tuple[float, int]]:
    """Poll the summed PSS (kB) of ``proc`` and its descendants until it exits."""
    samples, family, rescan, deadline = [], [proc.pid], 0.0, time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= rescan:
            family, rescan = [proc.pid, *_descendants(proc.pid)], now + RESCAN_S
        samples.append((now, sum(_pss_kb(pid) for pid in family)))
        time.sleep(SAMPLE_S)
    return samples


def _mesh_path(case: dict[str, Any], method: str) -> Path:
    MESH_DIR.mkdir(parents=True, exist_ok=True)
    return MESH_DIR / f"{case['name'].replace(' ', '_')}_{method}.npz"


def run_worker(case: dict[str, Any], method: str, cores: int, sample_pss: bool,
               timeout: float = 3600.0) -> dict[str, Any]:
    """Run one measurement in a fresh Python process and parse its result line."""
    spec = dict(case["spec"])
    if case["kind"] == "surface":
        spec["save_mesh"] = str(_mesh_path(case, method))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case["kind"], method,
           json.dumps(spec), "--cores", str(cores)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        samples = _sample_tree(proc, timeout) if sample_pss else []
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if sample_pss:
                window = [kb for t, kb in samples
                          if result["t0"] - SAMPLE_S <= t <= result["t1"] + SAMPLE_S]
                result["tree_mb"] = ((max(window) - result["base_pss_kb"]) / 1024.0
                                     if window else None)
                result["pss_samples"] = len(window)
            return result
    tail = (stderr or stdout).strip().splitlines()[-3:]
    return {"method": method, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}


def measure(case: dict[str, Any], method: str, runs: int, cores: int,
            pss: bool) -> dict[str, Any]:
    """``runs`` timed runs (best kept, largest memory) and one PSS-sampled run of one method."""
    timed = [run_worker(case, method, cores, False) for _ in range(runs)]
    errors = [r for r in timed if "error" in r]
    if errors:
        return errors[0]
    summary = dict(min(timed, key=lambda r: r["seconds"]))
    summary["all_seconds"] = [round(r["seconds"], 3) for r in timed]
    summary["median_seconds"] = float(statistics.median(r["seconds"] for r in timed))
    if all("cpu_seconds" in r for r in timed):
        summary["all_cpu"] = [round(r["cpu_seconds"], 3) for r in timed]
        summary["median_cpu"] = float(statistics.median(r["cpu_seconds"] for r in timed))
    summary["self_mb"] = max(r["self_mb"] for r in timed)
    summary["children_mb"] = max(r["children_mb"] for r in timed)
    summary["tree_mb"] = run_worker(case, method, cores, True).get("tree_mb") if pss else None
    return summary


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    return a[key] / b[key] if a.get(key) and b.get(key) else None


def _steps(r: dict[str, Any], min_s: float = 0.005) -> str:
    """``step seconds/peak MB`` for every step that took at least ``min_s``."""
    peaks = r.get("step_peak_mb", {})
    return " + ".join(f"{k} {v:.2f}" + (f"/{peaks[k]:.0f}" if k in peaks else "")
                      for k, v in r.get("steps", {}).items() if v >= min_s)


def _repaired(r: dict[str, Any]) -> str:
    """'closed' when repair_mesh (the builder's next step) left the mesh watertight."""
    if "repaired_watertight" not in r:
        return "-"
    return "closed" if r["repaired_watertight"] else "OPEN"


def _distance(r: dict[str, Any]) -> str:
    d = r.get("distance_mm")
    return f"{d['mean']:.2f}/{d['p99']:.2f}" if d else "-"


def print_surface(results: list[dict[str, Any]]) -> None:
    """One row per structure and method, then the step breakdown."""
    head = (f"{'structure':<24} {'method':<17} {'total s':>7} {'median':>6} {'cpu s':>5} "
            f"{'vs base':>7} {'segm s':>6} "
            f"{'surf s':>6} {'surf vs':>7} {'raw tri':>8} {'tri':>7} {'mesh/vox':>8} "
            f"{'open':>5} {'fins':>5} {'repaired':>8} {'self MB':>7} {'tree MB':>7} "
            f"{'d mean/p99 mm':>13}")
    print(head + "\n" + "-" * len(head))
    for case in results:
        base = case["methods"].get(BASE, {})
        for method, r in case["methods"].items():
            if "error" in r:
                print(f"{case['name']:<24} {method:<17} ERROR {r['error']}")
                continue
            print(f"{case['name']:<24} {method:<17} {r['seconds']:>7.2f} "
                  f"{_fmt(r.get('median_seconds')):>6} {_fmt(r.get('cpu_seconds')):>5} "
                  f"{_fmt(_ratio(r, base, 'seconds')):>7} {r['segment_seconds']:>6.2f} "
                  f"{r['surface_seconds']:>6.2f} {_fmt(_ratio(r, base, 'surface_seconds')):>7} "
                  f"{r.get('raw_triangles', 0):>8} {r['triangles']:>7} "
                  f"{1 + r['volume_error']:>8.4f} {r['open_edges']:>5} "
                  f"{r.get('nonmanifold_edges', 0):>5} {_repaired(r):>8} {r['self_mb']:>7.0f} "
                  f"{_fmt(r.get('tree_mb'), '.0f'):>7} {_distance(r):>13}")
    print("\nsteps: seconds (exclusive; 'other' = the rest of the chain) / peak RSS increase in MB "
          "over the step's start:")
    for case in results:
        for method, r in case["methods"].items():
            if "error" not in r:
                print(f"  {case['name']:<24} {method:<17} {_steps(r)}")
    print("\nCPU seconds (user + system; best run / median of runs): segmentation + surface "
          "(this process) + helper process; 'kernel' = system time of this process (first-touch "
          "page faults of new memory: on a virtual machine up to ~1.8 s per GB):")
    for case in results:
        for method, r in case["methods"].items():
            if "cpu_seconds" in r:
                print(f"  {case['name']:<24} {method:<17} {r['cpu_seconds']:.2f} / "
                      f"{_fmt(r.get('median_cpu'))} = {r['segment_cpu']:.2f} + "
                      f"{r['surface_cpu']:.2f} + {r['helper_cpu']:.2f}; kernel "
                      f"{_fmt(r.get('system_cpu'))}")


def _load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def print_tets(results: list[dict[str, Any]]) -> None:
    head = (f"{'structure':<30} {'voxel mL':>8} {'build s':>7} {'qual s':>6} {'nodes':>6} "
            f"{'tets':>6} {'cell mm':>7} {'rr min':>6} {'rr mean':>7} {'dih min':>7} "
            f"{'dih max':>7} {'vol err':>8} {'inv':>4} {'self MB':>7} {'tree MB':>7}")
    print(head + "\n" + "-" * len(head))
    for case in results:
        r = case["methods"]["surgiplan"]
        if "error" in r:
            print(f"{case['name']:<30} ERROR {r['error']}")
            continue
        print(f"{case['name']:<30} {r['source_volume_ml']:>8.1f} {r['seconds']:>7.2f} "
              f"{r['quality_seconds']:>6.2f} {r['n_nodes']:>6} {r['n_tets']:>6} "
              f"{r['cell_size_mm']:>7.2f} {r['radius_ratio_min']:>6.3f} "
              f"{r['radius_ratio_mean']:>7.3f} {r['min_dihedral_deg']:>7.1f} "
              f"{r['max_dihedral_deg']:>7.1f} {r['volume_error']:>+8.3f} {r['n_inverted']:>4} "
              f"{r['self_mb']:>7.0f} {_fmt(r.get('tree_mb'), '.0f'):>7}")
    print("\ntet build steps (seconds / peak MB):")
    for case in results:
        r = case["methods"]["surgiplan"]
        if "error" not in r:
            print(f"  {case['name']:<30} {_steps(r)}")


def evaluate(surface: list[dict[str, Any]], tets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PASS/FAIL against the issue's targets, plus sanity checks marked as such."""
    checks = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        checks.append({"check": name, "result": {True: "PASS", False: "FAIL"}.get(ok, "N/A"),
                       "detail": detail})

    for case in surface:
        sp, base = case["methods"].get("surgiplan", {}), case["methods"].get(BASE, {})
        fair = case["methods"].get(FAIR, {})
        organ = "" if "lung" in case["name"] else " (whole body, not one organ)"
        if "seconds" in sp and "seconds" in base:
            ratio = sp["seconds"] / base["seconds"]
            fair_text = (f"; vs +sinc variant {sp['seconds'] / fair['seconds']:.2f}"
                         if "seconds" in fair else "")
            add(f"{case['name']}: whole chain >= 3x faster than skimage+VTK (ratio <= 0.33)",
                ratio <= TARGET_SPEED_RATIO,
                f"{sp['seconds']:.2f} s / {base['seconds']:.2f} s = {ratio:.2f} (surface stage "
                f"alone {sp['surface_seconds']:.2f} / {base['surface_seconds']:.2f} = "
                f"{sp['surface_seconds'] / base['surface_seconds']:.2f}{fair_text})")
        if "seconds" in sp:
            add(f"{case['name']}: one structure <= {TARGET_ORGAN_SECONDS:.0f} s on "
                f"{sp['cpus']} cores{organ}", sp["seconds"] <= TARGET_ORGAN_SECONDS,
                f"{sp['seconds']:.2f} s (median {_fmt(sp.get('median_seconds'))} s) = "
                f"segmentation {sp['segment_seconds']:.2f} + surface {sp['surface_seconds']:.2f}; "
                f"CPU {_fmt(sp.get('cpu_seconds'))} s (median {_fmt(sp.get('median_cpu'))} s)")
            add(f"{case['name']}: surface closed (watertight after the builder's repair), "
                f"<= {BUDGET} triangles, volume within 1 % (sanity)",
                sp["open_edges"] == 0 and sp.get("repaired_watertight", False)
                and sp["triangles"] <= BUDGET and abs(sp["volume_error"]) <= 0.01,
                f"{sp['open_edges']} open edges, {sp.get('nonmanifold_edges', 0)} fins before "
                f"repair, {sp['triangles']} triangles, mesh/voxel volume "
                f"{1 + sp['volume_error']:.4f}; peak memory self {sp['self_mb']:.0f} MB, tree "
                f"{_fmt(sp.get('tree_mb'), '.0f')} MB")
    for case in tets:
        r = case["methods"]["surgiplan"]
        if "error" in r:
            continue
        add(f"{case['name']}: tet mesh valid and within 10 % of the voxel volume (sanity)",
            r["n_inverted"] == 0 and abs(r["volume_error"]) <= 0.10,
            f"{r['n_inverted']} inverted, volume {r['volume_ml']:.1f} mL vs "
            f"{r['source_volume_ml']:.1f} mL ({r['volume_error']:+.1%}), build "
            f"{r['seconds']:.2f} s")
    return checks


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (also the worker entry point with ``--worker``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 synthetic slices, 1 run "
                        "each, lungs and tets only, no +sinc baseline")
    parser.add_argument("--json", type=Path, help="write all results to this JSON file")
    parser.add_argument("--runs", type=int, default=3, help="timed SurgiPlan runs (best kept)")
    parser.add_argument("--baseline-runs", type=int, default=2, help="timed baseline runs")
    parser.add_argument("--cases", nargs="*", help="only cases whose name contains one "
                        "('surface'/'tet' select a kind; 'synthetic400 skin' adds its surface)")
    parser.add_argument("--cores", type=int, default=2, help="CPUs per worker (pinned)")
    parser.add_argument("--no-sinc", action="store_true", help="skip the +sinc baseline")
    parser.add_argument("--no-pss", action="store_true", help="skip the PSS-sampled runs")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "METHOD", "SPEC"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, method, spec = args.worker
        result = twin_methods.run(kind, method, json.loads(spec), args.cores, BUDGET)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    if args.quick:
        args.runs, args.baseline_runs, args.no_sinc = 1, 1, True
        args.cases = args.cases or ["lung", "tet"]

    started, load_start = time.perf_counter(), _load()
    revision, digest = code_revision(), source_digest()
    print(f"surgiplan {revision} (imaging/segmentation/twin sources {digest}), python "
          f"{platform.python_version()}, {os.cpu_count()} cores "
          f"(workers pinned to {args.cores}), {platform.platform()}; load average {_load()}")
    selected = cases(args.quick, args.cases, not args.no_sinc)
    results: list[dict[str, Any]] = []
    for case in selected:
        print(f"  {case['kind']} {case['name']}: warm-up ...", flush=True)
        warm = run_worker(case, "surgiplan", args.cores, False)
        entry = {"kind": case["kind"], "name": case["name"], "spec": case["spec"], "methods": {}}
        for method in case["methods"]:
            if "error" in warm:
                entry["methods"][method] = warm
                continue
            runs = args.runs if method == "surgiplan" else args.baseline_runs
            print(f"  {case['kind']} {case['name']}: {method} x{runs} ...", flush=True)
            entry["methods"][method] = measure(case, method, runs, args.cores, not args.no_pss)
        if case["kind"] == "surface":
            for method in case["methods"][1:]:
                entry["methods"][method]["distance_mm"] = mesh_distance(
                    _mesh_path(case, "surgiplan"), _mesh_path(case, method))
        results.append(entry)

    surface = [r for r in results if r["kind"] == "surface"]
    tets = [r for r in results if r["kind"] == "tet"]
    print(f"\nwall time: best of {args.runs} (SurgiPlan) / {args.baseline_runs} (baselines) "
          "fresh-process runs after one warm-up; memory: increase over the post-load baseline "
          "(self = worker peak RSS, kernel high-water mark reset at the start; tree = PSS of "
          "worker + children sampled by the parent).\n")
    if surface:
        print(f"surface chain to {BUDGET} triangles ('vs base' = time / {BASE} time; 'surf vs' "
              "= surface stage alone; mesh/vox = mesh volume / voxel volume; open = boundary "
              "edges; fins = edges of more than two faces (decimation); repaired = after the "
              "builder's repair_mesh, untimed; d = vertex-to-surface distance to SurgiPlan's "
              "mesh, both ways):")
        print_surface(surface)
    if tets:
        print("\ntet meshes (build_tet_mesh; quality from tet_quality):")
        print_tets(tets)
    checks = evaluate(surface, tets)
    print("\ntargets and sanity checks:")
    for check in checks:
        print(f"  [{check['result']}] {check['check']}: {check['detail']}")
    if source_digest() != digest:
        print(f"WARNING: surgiplan imaging/segmentation/twin code changed during the run "
              f"(at {revision} -> {code_revision()}): rerun for consistent figures",
              file=sys.stderr)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s, load average at the end "
          f"{_load()} (timings are noisy when other processes share the machine)")
    if args.json:
        args.json.write_text(json.dumps({
            "revision": revision, "source_digest": digest,
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "cores": args.cores, "platform": platform.platform(), "quick": args.quick,
            "runs": args.runs, "baseline_runs": args.baseline_runs, "results": results,
            "load_average_start": load_start, "load_average_end": _load(),
            "checks": checks,
        }, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
