"""DICOM import benchmark: SurgiPlan vs SimpleITK's ImageSeriesReader vs a naive pydicom loop.

Usage::

    python benchmarks/bench_import.py [--quick] [--json out.json] [--runs 3] [--datasets ...]

Datasets: the real chest CT ``../shared/data/chest_ct_lidc0314`` (275 slices, Implicit VR LE;
skipped when absent) and a synthetic 512x512 CT series (400 slices, 100 with ``--quick``) written
uncompressed, RLE Lossless and JPEG 2000 Lossless (generated once into ``benchmarks/_work/``).

Every measurement runs in a fresh worker process (``--worker METHOD FOLDER``): one warm-up run
(page cache warm), then ``--runs`` timed runs (best wall time, largest memory figures), then one
extra run that samples the process tree's PSS. See ``import_methods.py`` for what each memory
figure means. The script reports; it never fails the build (exit code 0 unless it crashes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import import_methods  # noqa: E402
from synthetic_series import ensure_synthetic  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHEST = SHARED_DATA / "chest_ct_lidc0314"
WORK_DIR = HERE / "_work"
RESULT_PREFIX = "BENCH-RESULT "
LOAD_METHODS = ("simpleitk", "surgiplan", "pydicom")
TARGET_SPEED_RATIO = 1.0  # surgiplan time / SimpleITK time
TARGET_PEAK_RATIO = 1.5  # peak memory / volume size
TARGET_SCAN_RATE = 2000.0  # files per second


def code_revision() -> str:
    """Short commit hash of the checkout plus ``-dirty`` when surgiplan/ has local changes."""
    repo = HERE.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "surgiplan"], cwd=repo,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def run_worker(method: str, folder: str, sample_pss: bool) -> dict[str, Any]:
    """Run one measurement in a fresh Python process and parse its result line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, folder]
    if sample_pss:
        cmd.append("--sample-pss")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"method": method, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}


def measure(method: str, folder: Path, runs: int, pss: bool) -> dict[str, Any]:
    """Warm-up, ``runs`` timed runs and (optionally) one PSS-sampled run of one method."""
    warm = run_worker(method, str(folder), False)
    if "error" in warm:
        return warm
    timed = [run_worker(method, str(folder), False) for _ in range(runs)]
    errors = [r for r in timed if "error" in r]
    if errors:
        return errors[0]
    best = min(timed, key=lambda r: r["seconds"])
    summary = dict(best)
    summary["all_seconds"] = [round(r["seconds"], 4) for r in timed]
    summary["self_mb"] = max(r["self_mb"] for r in timed)
    summary["children_mb"] = max(r["children_mb"] for r in timed)
    digests = {r.get("digest") for r in timed}
    summary["stable"] = len(digests) == 1
    if pss:
        sampled = run_worker(method, str(folder), True)
        summary["tree_mb"] = sampled.get("tree_mb")
    return summary


def _peak_mb(r: dict[str, Any]) -> float:
    """The memory figure checked against the target: the larger of self RSS and tree PSS."""
    return max(r.get("self_mb") or 0.0, r.get("tree_mb") or 0.0)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _breakdown(r: dict[str, Any]) -> str:
    return " + ".join(f"{k} {v:.2f}" for k, v in r.get("phases", {}).items())


def print_table(results: list[dict[str, Any]]) -> None:
    """Print the load table: one row per dataset and method."""
    head = (f"{'dataset':<22} {'method':<10} {'time s':>7} {'vs SITK':>8} {'self MB':>8} "
            f"{'child MB':>8} {'tree MB':>8} {'vol MB':>7} {'peak/vol':>8}  breakdown s")
    print(head)
    print("-" * len(head))
    for ds in results:
        ref = ds["methods"].get("simpleitk", {})
        for method in LOAD_METHODS:
            r = ds["methods"].get(method)
            if r is None:
                continue
            if "error" in r:
                print(f"{ds['name']:<22} {method:<10} ERROR {r['error']}")
                continue
            ratio = r["seconds"] / ref["seconds"] if ref.get("seconds") else None
            vol = r.get("volume_mb")
            peak_ratio = _peak_mb(r) / vol if vol else None
            print(f"{ds['name']:<22} {method:<10} {r['seconds']:>7.2f} {_fmt(ratio):>8} "
                  f"{_fmt(r['self_mb'], '.0f'):>8} {_fmt(r['children_mb'], '.0f'):>8} "
                  f"{_fmt(r.get('tree_mb'), '.0f'):>8} {_fmt(vol, '.0f'):>7} "
                  f"{_fmt(peak_ratio):>8}  {_breakdown(r)}")
    print("\nheader scan (surgiplan scan_folder alone, incl. process-pool start):")
    for ds in results:
        scan = ds["methods"].get("surgiplan-scan")
        if scan and "error" not in scan:
            print(f"  {ds['name']:<22} {scan['files']:>5} files  {scan['seconds']:.3f} s  "
                  f"{scan['files_per_s']:>7.0f} files/s")


def evaluate(results: list[dict[str, Any]], scan_names: set[str]) -> list[dict[str, Any]]:
    """PASS/FAIL checks against the issue's targets and the correctness comparison."""
    checks = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        checks.append({"check": name, "result": {True: "PASS", False: "FAIL"}.get(ok, "N/A"),
                       "detail": detail})

    for ds in results:
        sp, ref = ds["methods"].get("surgiplan", {}), ds["methods"].get("simpleitk", {})
        if "seconds" in sp and "seconds" in ref:
            ratio = sp["seconds"] / ref["seconds"]
            add(f"{ds['name']}: speed vs SimpleITK <= {TARGET_SPEED_RATIO}",
                ratio <= TARGET_SPEED_RATIO,
                f"{sp['seconds']:.2f} s / {ref['seconds']:.2f} s = {ratio:.2f}")
        if sp.get("volume_mb"):
            ratio = _peak_mb(sp) / sp["volume_mb"]
            add(f"{ds['name']}: peak memory <= {TARGET_PEAK_RATIO}x volume",
                ratio <= TARGET_PEAK_RATIO,
                f"max(self {sp['self_mb']:.0f}, tree {_fmt(sp.get('tree_mb'), '.0f')}) MB / "
                f"{sp['volume_mb']:.0f} MB = {ratio:.2f} (largest child RSS "
                f"{sp['children_mb']:.0f} MB)")
        for other in ("simpleitk", "pydicom"):
            r = ds["methods"].get(other, {})
            if "digest" in sp and "digest" in r:
                same = (sp["digest"] == r["digest"] and sp["shape"] == r["shape"]
                        and all(abs(a - b) < 1e-2
                                for a, b in zip(sp["origin"], r["origin"], strict=True)))
                add(f"{ds['name']}: voxels equal {other}", same,
                    f"shape {sp['shape']} vs {r['shape']}, first-slice origin {sp['origin']} vs "
                    f"{r['origin']}, digest {'equal' if same else 'DIFFERENT'}")
        scan = ds["methods"].get("surgiplan-scan", {})
        if ds["name"] in scan_names and "files_per_s" in scan:
            add(f"{ds['name']}: header scan >= {TARGET_SCAN_RATE:.0f} files/s",
                scan["files_per_s"] >= TARGET_SCAN_RATE,
                f"{scan['files']} files in {scan['seconds']:.3f} s = "
                f"{scan['files_per_s']:.0f} files/s")
    return checks


def datasets(quick: bool, wanted: set[str] | None) -> list[tuple[str, Path]]:
    """The (name, folder) pairs to benchmark, generating the synthetic series if needed."""
    out: list[tuple[str, Path]] = []
    if CHEST.is_dir():
        out.append(("chest_ct_lidc0314", CHEST))
    else:
        print(f"note: {CHEST} not found, skipping the real chest CT")
    n = 100 if quick else 400
    for syntax, folder in ensure_synthetic(WORK_DIR, n).items():
        out.append((f"synthetic{n}_{syntax}", folder))
    if wanted:
        out = [(name, folder) for name, folder in out if any(w in name for w in wanted)]
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (also the worker entry point with ``--worker``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 synthetic slices, not 400")
    parser.add_argument("--json", type=Path, help="write all results to this JSON file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per case (best kept)")
    parser.add_argument("--datasets", nargs="*", help="only datasets whose name contains one")
    parser.add_argument("--no-pss", action="store_true", help="skip the PSS-sampled run")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--sample-pss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = import_methods.run(args.worker[0], args.worker[1], args.sample_pss)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    started = time.perf_counter()
    revision = code_revision()
    print(f"surgiplan {revision}, python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{platform.platform()}")
    selected = datasets(args.quick, set(args.datasets) if args.datasets else None)
    scan_names = {name for name, _ in selected
                  if name == "chest_ct_lidc0314" or name.endswith("_uncompressed")}
    results = []
    for name, folder in selected:
        entry: dict[str, Any] = {"name": name, "folder": str(folder), "methods": {}}
        for method in (*LOAD_METHODS, "surgiplan-scan"):
            print(f"  {name}: {method} ...", flush=True)
            pss = not args.no_pss and method != "surgiplan-scan"
            entry["methods"][method] = measure(method, folder, args.runs, pss)
        results.append(entry)

    print("\nwall time: best of", args.runs, "fresh-process runs after one warm-up; memory: "
          "increase over the post-import baseline (self = worker ru_maxrss, child = largest "
          "child ru_maxrss (absolute), tree = sampled PSS of worker + children); peak/vol uses "
          "max(self, tree).\n")
    print_table(results)
    checks = evaluate(results, scan_names)
    print("\ntargets and correctness:")
    for check in checks:
        print(f"  [{check['result']}] {check['check']}: {check['detail']}")
    mismatches = [c for c in checks if "voxels equal" in c["check"] and c["result"] == "FAIL"]
    if mismatches:
        print("\n" + "!" * 72 + "\nVOXEL MISMATCH between importers:\n" +
              "\n".join(f"  {c['check']}: {c['detail']}" for c in mismatches) +
              "\n" + "!" * 72, file=sys.stderr)
    if code_revision() != revision:
        print(f"WARNING: the code changed during the run ({revision} -> {code_revision()}): "
              "rerun for consistent figures", file=sys.stderr)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s (timings are noisy when "
          "other processes share the machine)")
    if args.json:
        args.json.write_text(json.dumps({
            "revision": revision, "python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "quick": args.quick, "runs": args.runs,
            "results": results, "checks": checks,
        }, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
