"""The measured twin chains, run one per fresh worker process by ``bench_twin.py``.

A *surface* measurement times one structure's whole chain from the loaded CT volume:

* ``surgiplan``: ``segment_preset`` (threshold -> clean-up: largest components, fill holes; the
  lung preset also builds the body outline and removes the airway) then ``extract_surface``
  (discrete flying edges -> windowed sinc -> fast-simplification, large contours in two halves,
  one in a helper process -> volume restoration).
* ``skimage-vtk``: the same ``segment_preset`` call (same mask), then the baseline of the issue:
  ``skimage.measure.marching_cubes`` on the padded uint8 box -> vtkPolyData ->
  ``vtkQuadricDecimation`` to the same triangle budget. No smoothing.
* ``skimage-sinc-vtk``: the baseline plus ``vtkWindowedSincPolyDataFilter`` with SurgiPlan's
  settings before the decimation (the like-for-like variant).

A *tet* measurement segments the structure first (not timed), then times ``build_tet_mesh`` and
``tet_quality``.

Per-step times come from wrapping module functions of the imported ``surgiplan`` modules in
this process (exclusive time per step; a "lumped" step such as the body outline absorbs the
steps nested in it). The source files are not changed.

Memory, as increases over a baseline taken after the imports and the volume load (and, for tets,
after the segmentation): ``self_mb`` is the peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, an
exact kernel high-water mark, reset at the baseline through ``/proc/self/clear_refs``) minus the
RSS at the baseline; ``children_mb`` is the absolute largest child RSS (the DICOM loader's
decoders, before the baseline; the chains themselves do not fork). The tree PSS is sampled by the
*parent* process (see ``bench_twin.py``): scikit-image's marching cubes and fast-simplification
hold the GIL, so an in-process sampler thread would miss peaks inside them.
"""

from __future__ import annotations

import gc
import os
import resource
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

import numpy as np

MB = 1024.0 * 1024.0
SURFACE_METHODS = ("surgiplan", "skimage-vtk", "skimage-sinc-vtk")
SEGMENT_STEPS = ("body outline", "exclude airway", "threshold", "components", "fill holes")
SINC_ITERATIONS, SINC_PASS_BAND = 30, 0.02  # SurfaceOptions defaults, reused by the variant


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` figure in kB (``VmRSS``: current RSS, ``VmHWM``: peak RSS)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM, ``ru_maxrss``) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # old kernel or no permission: peaks then include earlier steps
        pass


class Steps:
    """Exclusive wall time and peak RSS increase of wrapped functions, by step name.

    At each top-level step the kernel's peak-RSS mark is folded into the chain's peak and
    reset, so a step's peak is measured from its own start; the chain peak stays exact.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak_mb: dict[str, float] = defaultdict(float)
        self.notes: list[str] = []
        self._stack: list[list[Any]] = []  # [step, nested seconds, lumped]
        self._base_kb = self._peak_kb = 0

    def _fold(self) -> int:
        self._peak_kb = max(self._peak_kb, _status_kb("VmHWM"))
        _reset_peak()
        return _status_kb("VmRSS")

    def start_chain(self) -> float:
        """Start of the measured chain: the RSS baseline in MB."""
        _reset_peak()
        self._base_kb = self._peak_kb = _status_kb("VmRSS")
        return self._base_kb / 1024.0

    def chain_peak_mb(self) -> float:
        """Peak RSS since :meth:`start_chain`, minus the baseline, MB."""
        self._peak_kb = max(self._peak_kb, _status_kb("VmHWM"))
        return (self._peak_kb - self._base_kb) / 1024.0

    def _enter(self, step: str, lump: bool) -> tuple[list[Any], int | None]:
        rss_kb = None if self._stack else self._fold()
        frame = [step, 0.0, lump]
        self._stack.append(frame)
        return frame, rss_kb

    def _leave(self, frame: list[Any], rss_kb: int | None, elapsed: float) -> None:
        self._stack.pop()
        self.seconds[frame[0]] += elapsed - frame[1]
        if self._stack:
            self._stack[-1][1] += elapsed
        if rss_kb is not None:
            hwm = _status_kb("VmHWM")
            self._peak_kb = max(self._peak_kb, hwm)
            self.peak_mb[frame[0]] = max(self.peak_mb[frame[0]], (hwm - rss_kb) / 1024.0)

    def wrap(self, module: Any, name: str, step: str, *, lump: bool = False,
             probe: Any = None) -> None:
        """Replace ``module.name`` by a measured wrapper (patched in memory only)."""
        func = getattr(module, name, None)
        if func is None:
            self.notes.append(f"{module.__name__}.{name} not found: its time counts as 'other'")
            return

        def measured(*args: Any, **kwargs: Any) -> Any:
            if self._stack and self._stack[-1][2]:
                return func(*args, **kwargs)
            frame, rss_kb = self._enter(step, lump)
            start = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            finally:
                self._leave(frame, rss_kb, time.perf_counter() - start)
            if probe is not None:
                probe(result)
            return result

        setattr(module, name, measured)

    @contextmanager
    def step(self, name: str):
        frame, rss_kb = self._enter(name, False)
        start = time.perf_counter()
        try:
            yield
        finally:
            self._leave(frame, rss_kb, time.perf_counter() - start)

    def ordered(self, order: tuple[str, ...], total: float) -> dict[str, float]:
        """Steps in ``order`` (those that ran) plus ``other`` = total minus their sum."""
        out = {k: round(self.seconds[k], 4) for k in order if k in self.seconds}
        out["other"] = round(max(0.0, total - sum(self.seconds.values())), 4)
        return out

    def peaks(self, order: tuple[str, ...]) -> dict[str, float]:
        return {k: round(self.peak_mb[k], 1) for k in order if k in self.peak_mb}


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux reports KiB


def _tree_pss_kb() -> int:
    from import_methods import _descendants, _pss_kb

    me = os.getpid()
    return _pss_kb(me) + sum(_pss_kb(pid) for pid in _descendants(me))


def _limit_cores(cores: int) -> int:
    """Pin this process to ``cores`` CPUs when the machine has more; the CPUs usable."""
    available = sorted(os.sched_getaffinity(0))
    if cores and len(available) > cores:
        os.sched_setaffinity(0, available[:cores])
        import vtk

        vtk.vtkSMPTools.Initialize(cores)
    return len(os.sched_getaffinity(0))


def _load(spec: dict[str, Any]):
    if "volume_file" in spec:  # NIfTI / NRRD CT
        from surgiplan.imaging.volume_io import read_volume

        return read_volume(spec["volume_file"])
    from surgiplan.imaging import load_series, scan_folder

    return load_series(scan_folder(spec["folder"]).volumes()[0])


def _segment(volume, spec: dict[str, Any]):
    """The structure's region: a preset (timed chain) or a label of an imported label map."""
    if "preset" in spec:
        from surgiplan.segmentation import segment_preset

        return segment_preset(volume, spec["preset"]), spec["preset"]
    from surgiplan.segmentation import Region, import_label_map

    labels = import_label_map(spec["labels"], shape=volume.shape, affine_lps=volume.affine_lps)
    region = Region.from_full_mask(labels.labels == spec["label"])
    info = [s for s in labels.structures if s.label == spec["label"]][0]
    return region, info.tissue


def _patch_segmentation(steps: Steps) -> None:
    from surgiplan.segmentation import presets

    steps.wrap(presets, "body_outline", "body outline", lump=True)
    steps.wrap(presets, "_excluded", "exclude airway", lump=True)
    steps.wrap(presets, "_candidate", "threshold")
    steps.wrap(presets, "_select_components", "components")
    steps.wrap(presets, "fill_holes", "fill holes")


def _surgiplan_surface(region, affine: np.ndarray, budget: int, steps: Steps,
                       info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from surgiplan.twin import surface

    def count_raw(poly) -> None:
        info["raw_triangles"] = int(poly.GetNumberOfPolys())  # the last (used) contour

    steps.wrap(surface, "_padded_image", "pad")
    steps.wrap(surface, "_contour", "contour", probe=count_raw)
    steps.wrap(surface, "_smooth", "smooth")
    steps.wrap(surface, "_restored", "restore volume")
    steps.wrap(surface, "_decimate", "decimate")
    steps.wrap(surface, "_decimate_halves", "decimate", lump=True)  # halves, helper, join
    mesh = surface.extract_surface(region, affine, surface.SurfaceOptions(target_triangles=budget))
    return mesh.vertices_lps_mm, mesh.faces


def polydata(points: np.ndarray, faces: np.ndarray):
    import vtk
    from vtk.util import numpy_support

    poly = vtk.vtkPolyData()
    vtk_points = vtk.vtkPoints()
    vtk_points.SetData(numpy_support.numpy_to_vtk(points, deep=True))
    cells = vtk.vtkCellArray()
    offsets = np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64)
    cells.SetData(numpy_support.numpy_to_vtkIdTypeArray(offsets, deep=True),
                  numpy_support.numpy_to_vtkIdTypeArray(
                      np.ascontiguousarray(faces, dtype=np.int64).ravel(), deep=True))
    poly.SetPoints(vtk_points)
    poly.SetPolys(cells)
    return poly


def _baseline_surface(region, affine: np.ndarray, budget: int, smooth: bool, steps: Steps,
                      info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """skimage marching cubes (+ windowed sinc) + vtkQuadricDecimation, on the same mask."""
    import vtk
    from skimage.measure import marching_cubes
    from vtk.util import numpy_support

    with steps.step("pad"):
        mask = np.pad(region.mask, 1).astype(np.uint8)  # same padded box as SurgiPlan
    with steps.step("marching cubes"):
        verts, faces, _, _ = marching_cubes(mask, level=0.5)
    info["raw_triangles"] = int(len(faces))
    with steps.step("to VTK"):
        ijk = verts[:, ::-1].astype(np.float64) + (np.asarray(region.offset_kji[::-1]) - 1)
        poly = polydata(ijk @ affine[:3, :3].T + affine[:3, 3], faces)
    if smooth:
        with steps.step("smooth"):
            smoother = vtk.vtkWindowedSincPolyDataFilter()
            smoother.SetInputData(poly)
            smoother.SetNumberOfIterations(SINC_ITERATIONS)
            smoother.SetPassBand(SINC_PASS_BAND)
            smoother.NormalizeCoordinatesOn()
            smoother.BoundarySmoothingOff()
            smoother.FeatureEdgeSmoothingOff()
            smoother.NonManifoldSmoothingOn()
            smoother.Update()
            poly = smoother.GetOutput()
    if len(faces) > budget:
        with steps.step("decimate"):
            decimate = vtk.vtkQuadricDecimation()
            decimate.SetInputData(poly)
            decimate.SetTargetReduction(1.0 - budget / len(faces))
            decimate.Update()
            poly = decimate.GetOutput()
    with steps.step("from VTK"):
        points = numpy_support.vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
        conn = numpy_support.vtk_to_numpy(poly.GetPolys().GetConnectivityArray())
    return points, conn.reshape(-1, 3).astype(np.int64)


def mesh_stats(points: np.ndarray, faces: np.ndarray) -> dict[str, Any]:
    """Enclosed volume (mL, absolute) and edge counts: open (1 face) and non-manifold (> 2)."""
    a, b, c = (points[faces[:, n]] for n in range(3))
    volume_ml = abs(float(np.einsum("ij,ij->", a, np.cross(b, c)))) / 6.0 / 1000.0
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges[:, 0] * (len(points) + 1) + edges[:, 1], return_counts=True)
    return {"mesh_ml": volume_ml, "open_edges": int(np.count_nonzero(counts == 1)),
            "nonmanifold_edges": int(np.count_nonzero(counts > 2)),
            "vertices": int(len(points)), "triangles": int(len(faces))}


def _after_repair(points: np.ndarray, faces: np.ndarray) -> dict[str, Any]:
    """``repair_mesh`` as the twin builder runs it after ``extract_surface``: watertight?"""
    from surgiplan.twin.mesh import SurfaceMesh
    from surgiplan.twin.repair import repair_mesh

    start = time.perf_counter()
    repaired = repair_mesh(SurfaceMesh(points, faces))
    report = repaired.report_after
    return {"repair_seconds": time.perf_counter() - start,
            "repaired_watertight": bool(report.watertight and report.manifold),
            "repaired_ml": mesh_stats(repaired.mesh.vertices_lps_mm,
                                      repaired.mesh.faces)["mesh_ml"]}


def _cpu_seconds(t0: os.times_result, t1: os.times_result,
                 t2: os.times_result) -> dict[str, float]:
    """CPU seconds (user + system) of the segmentation and surface stages: this process and
    its finished children (the surface's decimation helper)."""
    def cpu(a: os.times_result, b: os.times_result, children: bool) -> float:
        if children:
            return (b.children_user - a.children_user) + (b.children_system - a.children_system)
        return (b.user - a.user) + (b.system - a.system)

    return {"segment_cpu": cpu(t0, t1, False), "surface_cpu": cpu(t1, t2, False),
            "helper_cpu": cpu(t1, t2, True), "cpu_seconds": cpu(t0, t2, False) + cpu(t1, t2, True),
            "system_cpu": t2.system - t0.system}  # kernel time: mostly first-touch page faults


def _surface(method: str, spec: dict[str, Any], budget: int) -> dict[str, Any]:
    volume = _load(spec)
    affine = np.asarray(volume.affine_lps, dtype=np.float64)
    steps, info = Steps(), {}
    _patch_segmentation(steps)
    gc.collect()
    base_pss_kb, t0 = _tree_pss_kb(), time.monotonic()
    steps.start_chain()
    cpu0, start = os.times(), time.perf_counter()
    region, _ = _segment(volume, spec)
    cpu1, segmented = os.times(), time.perf_counter()
    if method == "surgiplan":
        points, faces = _surgiplan_surface(region, affine, budget, steps, info)
    else:
        points, faces = _baseline_surface(region, affine, budget, method == "skimage-sinc-vtk",
                                          steps, info)
    cpu2, end = os.times(), time.perf_counter()
    info.update(_cpu_seconds(cpu0, cpu1, cpu2))
    t1, self_mb = time.monotonic(), steps.chain_peak_mb()
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    stats = mesh_stats(points, faces)
    if spec.get("save_mesh"):  # for the parent's mesh-to-mesh distances
        np.savez(spec["save_mesh"], points=points, faces=faces)
    if method == "surgiplan":  # what build_structure does next (not timed)
        info.update(_after_repair(points, faces))
    surface_order = ("pad", "contour", "marching cubes", "to VTK", "smooth", "restore volume",
                     "decimate", "from VTK")
    return {
        "seconds": end - start, "segment_seconds": segmented - start,
        "surface_seconds": end - segmented,
        "steps": steps.ordered(SEGMENT_STEPS + surface_order, end - start),
        "step_peak_mb": steps.peaks(SEGMENT_STEPS + surface_order),
        "notes": steps.notes, "voxels": region.voxel_count,
        "voxel_ml": region.voxel_count * voxel_ml, "box": list(region.mask.shape),
        **info, **stats, "volume_error": stats["mesh_ml"] / (region.voxel_count * voxel_ml) - 1,
        "volume_mb": volume.voxels.nbytes / MB, "self_mb": self_mb, "t0": t0, "t1": t1,
        "base_pss_kb": base_pss_kb,
    }


def _tets(spec: dict[str, Any]) -> dict[str, Any]:
    from surgiplan.twin import tetmesh

    try:  # moved out of tetmesh in later revisions
        from surgiplan.twin.tet_quality import tet_quality
    except ImportError:
        tet_quality = tetmesh.tet_quality
    volume = _load(spec)
    region, tissue = _segment(volume, spec)
    steps = Steps()
    steps.wrap(tetmesh, "_block_occupancy", "block occupancy")
    steps.wrap(tetmesh, "_summed_volume", "summed table")
    steps.wrap(tetmesh, "_search_grid", "grid search")
    steps.wrap(tetmesh, "_kuhn_tets", "kuhn split")
    steps.wrap(tetmesh, "largest_face_connected", "face components")
    gc.collect()
    base_pss_kb, t0 = _tree_pss_kb(), time.monotonic()
    steps.start_chain()
    start = time.perf_counter()
    mesh = tetmesh.build_tet_mesh(region, volume.affine_lps, tissue=tissue)
    built = time.perf_counter()
    quality = tet_quality(mesh)
    end = time.perf_counter()
    t1, self_mb = time.monotonic(), steps.chain_peak_mb()
    order = ("block occupancy", "summed table", "grid search", "kuhn split", "face components")
    out = {k: (float(v) if isinstance(v, float | np.floating) else v)
           for k, v in vars(quality).items()}
    out.update(seconds=built - start, quality_seconds=end - built, tissue=tissue,
               steps=steps.ordered(order, built - start), step_peak_mb=steps.peaks(order),
               notes=steps.notes,
               cell_size_mm=float(mesh.cell_size_mm), voxels=region.voxel_count,
               box=list(region.mask.shape), self_mb=self_mb, t0=t0, t1=t1,
               base_pss_kb=base_pss_kb)
    return out


def run(kind: str, method: str, spec: dict[str, Any], cores: int,
        budget: int = 200_000) -> dict[str, Any]:
    """Run one measurement once in this (fresh) process and return its figures."""
    os.environ.setdefault("VTK_SMP_BACKEND_IN_USE", "STDThread")  # as the CLI does
    import fast_simplification  # noqa: F401  (every library in every worker: same baseline)
    import skimage.measure  # noqa: F401
    import vtk  # noqa: F401

    import surgiplan.segmentation  # noqa: F401
    import surgiplan.twin.surface  # noqa: F401
    import surgiplan.twin.tetmesh  # noqa: F401

    usable = _limit_cores(cores)
    out = _tets(spec) if kind == "tet" else _surface(method, spec, budget)
    out.update(kind=kind, method=method, cpus=usable,
               children_mb=_maxrss_mb(resource.RUSAGE_CHILDREN))
    return out
