"""Synthetic CT series for the import benchmark, written in three transfer syntaxes.

The series is ``n`` axial slices of 512x512 CT (12 bits stored in 16, unsigned, rescale
intercept -1024 so the values are HU) showing a smooth torso-like phantom (body, fat layer,
lungs, heart, aorta, spine) plus Gaussian noise with sd 10 HU, so compressed sizes are close to
what a real CT gives. Each slice is written as:

* ``uncompressed/`` - Explicit VR Little Endian,
* ``rle/`` - RLE Lossless (``Dataset.compress``),
* ``j2k/`` - JPEG 2000 Lossless (``Dataset.compress``, pylibjpeg-openjpeg encoder).

Folders are generated once (in parallel) under ``benchmarks/_work/synthetic_<n>/`` and cached
between runs; a ``<syntax>.done`` marker beside each folder records a completed write, so an
interrupted generation is redone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

ROWS = COLUMNS = 512
PIXEL_SPACING_MM = 0.7
SLICE_SPACING_MM = 1.0
NOISE_SD_HU = 10.0
SYNTAXES: dict[str, str | None] = {
    "uncompressed": None,
    "rle": RLELossless,
    "j2k": JPEG2000Lossless,
}
_FORMAT_VERSION = 1  # bump when the content changes, to invalidate old caches


def _uid(n_slices: int, *parts: object) -> str:
    """A deterministic UID, so a regenerated series is identical to the cached one."""
    return generate_uid(entropy_srcs=["surgiplan-bench", str(n_slices), *map(str, parts)])


def phantom_slice_hu(k: int, n_slices: int) -> np.ndarray:
    """HU values (int16, 512x512) of slice ``k``: a torso-like phantom plus Gaussian noise."""
    t = k / max(1, n_slices - 1)  # 0 = inferior end, 1 = superior end
    y, x = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float32)
    x -= COLUMNS / 2
    y -= ROWS / 2

    def inside(cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
        return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0

    hu = np.full((ROWS, COLUMNS), -1000.0, dtype=np.float32)
    body_ax, body_ay = 210 - 25 * t, 150 - 15 * t
    hu[inside(0, 0, body_ax, body_ay)] = -100.0  # subcutaneous fat
    muscle = inside(0, 0, body_ax - 18, body_ay - 15)
    hu[muscle] = 45.0 + 15.0 * np.sin(x[muscle] / 40.0) * np.cos(y[muscle] / 55.0)
    lung_scale = np.clip((t - 0.15) / 0.3, 0.0, 1.0)  # lungs appear above the diaphragm
    if lung_scale > 0:
        for side in (-1, 1):
            hu[inside(side * 85, -5, 65 * lung_scale + 1, 95 * lung_scale + 1)] = -850.0
    heart = 0.6 - abs(t - 0.45)
    if heart > 0:
        hu[inside(20, -35, 90 * heart + 1, 75 * heart + 1)] = 40.0
    hu[inside(-30, 35, 14, 14)] = 180.0  # contrast-filled aorta
    hu[inside(0, 105, 28, 24)] = 700.0  # vertebral body
    hu[inside(0, 105, 16, 13)] = 250.0  # cancellous bone
    rng = np.random.default_rng(1000 + k)
    hu += rng.normal(0.0, NOISE_SD_HU, size=hu.shape).astype(np.float32)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def _dataset(k: int, n_slices: int) -> Dataset:
    """A complete minimal CT Image Storage dataset for slice ``k`` (uncompressed)."""
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = _uid(n_slices, "sop", k)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Synthetic^Benchmark"
    ds.PatientID = "BENCH-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = _uid(n_slices, "study")
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    ds.SeriesInstanceUID = _uid(n_slices, "series")
    ds.SeriesNumber = 1
    ds.SeriesDescription = f"Synthetic chest {n_slices} slices"
    ds.FrameOfReferenceUID = _uid(n_slices, "for")
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "SurgiPlan benchmark"
    ds.InstanceNumber = k + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.AcquisitionNumber = 1
    z = -200.0 + k * SLICE_SPACING_MM
    half = (ROWS - 1) * PIXEL_SPACING_MM / 2
    ds.ImagePositionPatient = [f"{-half:.2f}", f"{-half:.2f}", f"{z:.2f}"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [PIXEL_SPACING_MM, PIXEL_SPACING_MM]
    ds.SliceThickness = SLICE_SPACING_MM
    ds.SliceLocation = f"{z:.2f}"
    ds.KVP = 120
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ROWS
    ds.Columns = COLUMNS
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    stored = (phantom_slice_hu(k, n_slices).astype(np.int32) + 1024).astype(np.uint16)
    ds.PixelData = stored.tobytes()
    return ds


def _write_slice(task: tuple[int, int, dict[str, str]]) -> int:
    """Write slice ``k`` into every requested syntax folder (pool task)."""
    k, n_slices, folders = task
    for name, folder in folders.items():
        ds = _dataset(k, n_slices)
        syntax = SYNTAXES[name]
        if syntax is not None:
            ds.compress(syntax)
        ds.save_as(os.path.join(folder, f"CT{k + 1:04d}.dcm"), enforce_file_format=True)
    return k


def _marker(root: Path, name: str) -> Path:
    return root / f"{name}.done"


def _is_complete(root: Path, name: str, n_slices: int) -> bool:
    marker = _marker(root, name)
    if not marker.exists() or not (root / name).is_dir():
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    files = len(list((root / name).iterdir()))
    return info == {"slices": n_slices, "version": _FORMAT_VERSION} and files == n_slices


def ensure_synthetic(work_dir: Path, n_slices: int, log=print) -> dict[str, Path]:
    """Return ``{syntax name: folder}``, generating missing or incomplete folders first.

    Parameters
    ----------
    work_dir : Path
        Cache root (``benchmarks/_work``).
    n_slices : int
        Number of slices (400 for the full benchmark, 100 for ``--quick``).
    log : callable
        Receives progress messages.
    """
    root = work_dir / f"synthetic_{n_slices}"
    folders = {name: root / name for name in SYNTAXES}
    missing = {n: str(f) for n, f in folders.items() if not _is_complete(root, n, n_slices)}
    if not missing:
        return folders
    log(f"generating synthetic {n_slices}-slice series ({', '.join(missing)}) in {root} ...")
    for name, folder in missing.items():
        _marker(root, name).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True)
    tasks = [(k, n_slices, missing) for k in range(n_slices)]
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        for done, _ in enumerate(pool.imap_unordered(_write_slice, tasks, chunksize=8), 1):
            if done % 100 == 0 or done == n_slices:
                log(f"  {done}/{n_slices} slices written")
    for name in missing:
        _marker(root, name).write_text(json.dumps({"slices": n_slices, "version": _FORMAT_VERSION}))
    return folders
