"""Scan a folder for DICOM series: header-only, recursive, in parallel, never stopped by junk."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from surgiplan.errors import InputError
from surgiplan.imaging.headers import ImageRef, SkippedFile, read_image_refs
from surgiplan.imaging.series import SeriesCandidate, group_series
from surgiplan.progress import ProgressCallback, report

PARALLEL_THRESHOLD = 64
CHUNK_SIZE = 32


@dataclass(frozen=True)
class ScanResult:
    """What a folder holds: series candidates and every file left unused, with its reason."""

    root: Path
    series: list[SeriesCandidate]
    skipped: list[SkippedFile]

    def volumes(self) -> list[SeriesCandidate]:
        """Candidates that can be imported as 3D volumes."""
        return [s for s in self.series if s.is_volume]


def list_files(root: Path) -> list[str]:
    """Every regular file below ``root`` (recursively, hidden files included), sorted."""
    out = []
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                out.append(path)
    out.sort()
    return out


def _read_all(paths: list[str], progress: ProgressCallback | None,
              workers: int | None) -> list[list[ImageRef] | SkippedFile]:
    total = len(paths)
    workers = workers or os.cpu_count() or 1
    if total < PARALLEL_THRESHOLD or workers == 1:
        results = []
        for done, path in enumerate(paths, start=1):
            results.append(read_image_refs(path))
            if done % CHUNK_SIZE == 0 or done == total:
                report(progress, done, total, "Reading headers")
        return results
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    results = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        for done, result in enumerate(pool.map(read_image_refs, paths, chunksize=CHUNK_SIZE), 1):
            results.append(result)
            if done % CHUNK_SIZE == 0 or done == total:
                report(progress, done, total, "Reading headers")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def scan_folder(
    root: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Find every DICOM series below a folder.

    Parameters
    ----------
    root : path
        Folder to scan recursively; file names and extensions do not matter.
    progress : callable, optional
        ``(done, total, label) -> bool | None``; return ``False`` to cancel.
    workers : int, optional
        Processes reading headers (default: one per core).

    Returns
    -------
    ScanResult
        Series candidates (volumes and non-volumes, each with warnings) and skipped files.

    Raises
    ------
    InputError
        When ``root`` does not exist, is not a folder, or holds no files.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise InputError(f"no such folder: {root_path} (check the path)")
    if not root_path.is_dir():
        raise InputError(f"{root_path} is a file, not a folder: give the folder holding the scan")
    paths = list_files(root_path)
    if not paths:
        raise InputError(f"folder {root_path} is empty: copy the scan's files into it")
    images: list[ImageRef] = []
    skipped: list[SkippedFile] = []
    for result in _read_all(paths, progress, workers):
        if isinstance(result, SkippedFile):
            skipped.append(result)
        else:
            images.extend(result)
    return ScanResult(root_path, group_series(images), skipped)
