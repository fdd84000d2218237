"""The measured import methods, run one per fresh worker process by ``bench_import.py``.

Each method is timed with :func:`time.perf_counter` around the import alone. Memory is measured
three ways, all as increases over a baseline taken after every module the method needs (and the
pixel codec plugins) has been imported:

* ``self_mb`` - ``getrusage(RUSAGE_SELF).ru_maxrss`` increase of the worker process. The loaded
  volume is read once (for the correctness digest) before this is taken, so pages that forked
  decoders wrote into shared memory are counted too.
* ``children_mb`` - ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` as is (absolute, not an increase):
  the largest peak RSS among the (forked) child processes. It includes whatever inherited pages
  and shared memory the child touched, so it overlaps ``self_mb`` and must not be added to it.
* ``tree_mb`` - only in the separate sampled run: the peak of the summed proportional set size
  (PSS, shared pages split between the processes sharing them) of the worker and all its
  descendants, polled every few milliseconds from ``/proc``. This is the closest to "RAM the
  import really needed" when forked decoders are involved.
"""

from __future__ import annotations

import gc
import hashlib
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

MB = 1024.0 * 1024.0
METHODS = ("surgiplan", "simpleitk", "pydicom", "surgiplan-scan")


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux reports KiB


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    """PIDs of every live descendant of ``root`` (scans ``/proc/*/stat``)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


class TreePssSampler:
    """Polls the summed PSS of this process and its descendants in a background thread."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = _pss_kb(me) + sum(_pss_kb(pid) for pid in _descendants(me))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreePssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _digest(voxels: np.ndarray, flip: bool) -> str:
    """SHA-1 of the volume as float32, slices in ascending-z order (cheap: slice by slice)."""
    sha = hashlib.sha1()
    order = range(voxels.shape[0] - 1, -1, -1) if flip else range(voxels.shape[0])
    for k in order:
        sha.update(np.ascontiguousarray(voxels[k], dtype=np.float32).tobytes())
    return sha.hexdigest()


def _import_codecs() -> None:
    """Load pydicom's pixel plugins now, so their libraries are part of the baseline."""
    import pydicom.pixels  # noqa: F401
    for name in ("openjpeg", "rle", "libjpeg"):
        try:
            __import__(name)
        except ImportError:
            pass


def _surgiplan(folder: str) -> dict[str, Any]:
    from surgiplan.imaging import load_series, scan_folder

    start = time.perf_counter()
    result = scan_folder(folder)
    scanned = time.perf_counter()
    volume = load_series(result.volumes()[0])
    end = time.perf_counter()
    affine = volume.affine_lps
    flip = affine[2, 2] < 0
    origin = affine[:3, 3] + (affine[:3, 2] * (volume.shape[0] - 1) if flip else 0.0)
    return {
        "seconds": end - start,
        "phases": {"scan": scanned - start, "load": end - scanned},
        "voxels": volume.voxels, "flip": flip, "origin": origin,
        "volume_nbytes": volume.nbytes,
        "files": sum(len(s.images) for s in result.series) + len(result.skipped),
    }


def _surgiplan_scan(folder: str) -> dict[str, Any]:
    from surgiplan.imaging import scan_folder

    start = time.perf_counter()
    result = scan_folder(folder)
    end = time.perf_counter()
    files = sum(len(s.images) for s in result.series) + len(result.skipped)
    return {"seconds": end - start, "phases": {"scan": end - start}, "files": files,
            "files_per_s": files / (end - start)}


def _simpleitk(folder: str) -> dict[str, Any]:
    import SimpleITK as sitk

    start = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(folder)
    listed = time.perf_counter()
    reader.SetFileNames(names)
    image = reader.Execute()
    end = time.perf_counter()
    voxels = sitk.GetArrayViewFromImage(image)  # (slices, rows, cols), no copy
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    k_step = direction[:, 2] * image.GetSpacing()[2]
    flip = k_step[2] < 0
    origin = np.asarray(image.GetOrigin()) + (k_step * (voxels.shape[0] - 1) if flip else 0.0)
    nbytes = image.GetNumberOfPixels() * image.GetSizeOfPixelComponent() * (
        image.GetNumberOfComponentsPerPixel())
    return {
        "seconds": end - start,
        "phases": {"file_names": listed - start, "execute": end - listed},
        "voxels": voxels, "flip": flip, "origin": origin, "volume_nbytes": int(nbytes),
        "files": len(names), "keep": image,
    }


def _pydicom(folder: str) -> dict[str, Any]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    start = time.perf_counter()
    datasets = []
    for path in sorted(Path(folder).iterdir()):
        try:
            datasets.append(pydicom.dcmread(path))
        except InvalidDicomError:
            continue
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    voxels = np.stack([
        ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets
    ])
    end = time.perf_counter()
    origin = np.asarray([float(v) for v in datasets[0].ImagePositionPatient])
    del datasets
    return {"seconds": end - start, "phases": {}, "voxels": voxels, "flip": False,
            "origin": origin, "volume_nbytes": int(voxels.nbytes), "files": len(voxels)}


def run(method: str, folder: str, sample_pss: bool) -> dict[str, Any]:
    """Run one method once in this (fresh) process and return its measurements."""
    func = {"surgiplan": _surgiplan, "surgiplan-scan": _surgiplan_scan,
            "simpleitk": _simpleitk, "pydicom": _pydicom}[method]
    if method.startswith("surgiplan"):
        import surgiplan.imaging  # noqa: F401
    elif method == "simpleitk":
        import SimpleITK  # noqa: F401
    _import_codecs()
    gc.collect()
    base_mb = _maxrss_mb(resource.RUSAGE_SELF)
    base_pss_kb = _pss_kb(os.getpid())
    sampler = TreePssSampler() if sample_pss else None
    if sampler:
        with sampler:
            out = func(folder)
    else:
        out = func(folder)
    voxels = out.pop("voxels", None)
    if voxels is not None:
        out["digest"] = _digest(voxels, bool(out.pop("flip")))
        out["shape"] = list(voxels.shape)
        out["dtype"] = str(voxels.dtype)
        out["origin"] = [round(float(v), 3) for v in out["origin"]]
    out.pop("keep", None)
    children_mb = _maxrss_mb(resource.RUSAGE_CHILDREN)
    out.update(
        method=method, folder=folder, pid=os.getpid(), baseline_mb=base_mb,
        self_mb=_maxrss_mb(resource.RUSAGE_SELF) - base_mb,
        children_mb=children_mb,
        tree_mb=(sampler.peak_kb - base_pss_kb) / 1024.0 if sampler else None,
    )
    if "volume_nbytes" in out:
        out["volume_mb"] = out["volume_nbytes"] / MB
    return out
