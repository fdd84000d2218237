"""Load a scanned series candidate into a :class:`Volume` (decode, rescale, regularise)."""

from __future__ import annotations

import mmap
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import groupby

import numpy as np
import pydicom
from scipy import ndimage

from surgiplan.errors import DicomImportError
from surgiplan.imaging.decode import decode_stored, to_modality_values
from surgiplan.imaging.geometry import ResamplePlan, StackGeometry
from surgiplan.imaging.headers import ImageRef
from surgiplan.imaging.series import SeriesCandidate
from surgiplan.imaging.volume import IDENTIFYING_KEYWORDS, PatientIdentity, Volume
from surgiplan.progress import ProgressCallback, report

CT_AIR_HU = -1024.0
_SHARED: np.ndarray | None = None  # decode target inherited by forked workers


def _shared_array(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zeroed array in anonymous shared memory, writable by forked worker processes."""
    nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
    buffer = mmap.mmap(-1, nbytes)
    return np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def _exact_integer(images: list[ImageRef]) -> bool:
    return all(
        im.rescale_slope == 1.0
        and float(im.rescale_intercept).is_integer()
        and im.bits_allocated <= 16
        for im in images
    )


def _decode_chunk(chunk: list[tuple[int, ImageRef]]) -> bool:
    """Decode ``(slot, image)`` pairs into the shared array; ``False`` if a value overflowed."""
    assert _SHARED is not None
    fits = True
    for path, items in groupby(chunk, key=lambda item: item[1].path):
        items = list(items)
        dataset = None
        if items[0][1].frame is not None and items[0][1].pixel_offset is None:
            dataset = pydicom.dcmread(path)
        for slot, image in items:
            fits &= to_modality_values(decode_stored(image, dataset), image, _SHARED[slot])
    return fits


def _chunks(images: list[ImageRef], size: int) -> list[list[tuple[int, ImageRef]]]:
    slots = list(enumerate(images))
    multi = [s for s in slots if s[1].frame is not None]
    single = [s for s in slots if s[1].frame is None]
    out = [single[i:i + size] for i in range(0, len(single), size)]
    multi.sort(key=lambda s: (s[1].path, s[1].frame))
    out += [list(group) for _, group in groupby(multi, key=lambda s: s[1].path)]
    return out


def _decode_all(images: list[ImageRef], out: np.ndarray, progress: ProgressCallback | None,
                workers: int) -> bool:
    global _SHARED
    _SHARED = out
    total = len(images)
    compressed = any(im.pixel_offset is None for im in images)
    chunks = _chunks(images, max(1, min(16, total // (4 * workers) or 1)))
    done, fits = 0, True
    try:
        if workers <= 1 or total < 8:
            for chunk in chunks:
                fits &= _decode_chunk(chunk)
                done += len(chunk)
                report(progress, done, total, "Decoding slices")
            return fits
        # Native reads and numpy arithmetic release the GIL: threads suffice. The codecs hold
        # it, so compressed slices are decoded by forked processes writing to shared memory.
        if compressed:
            pool = ProcessPoolExecutor(max_workers=workers,
                                       mp_context=multiprocessing.get_context("fork"))
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for chunk, ok in zip(chunks, pool.map(_decode_chunk, chunks), strict=True):
                fits &= ok
                done += len(chunk)
                report(progress, done, total, "Decoding slices")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return fits
    finally:
        _SHARED = None


def decode_stack(images: list[ImageRef], *, progress: ProgressCallback | None = None,
                 workers: int | None = None) -> np.ndarray:
    """Decode images into a (n, rows, columns) array of modality values (int16 or float32)."""
    workers = workers or os.cpu_count() or 1
    shape = (len(images), images[0].rows, images[0].columns)
    if _exact_integer(images):
        stack = _shared_array(shape, np.int16)
        if _decode_all(images, stack, progress, workers):
            return stack
        del stack
    stack = _shared_array(shape, np.float32)
    _decode_all(images, stack, progress, workers)
    return stack


def _shifted(source: np.ndarray, offset_ij: np.ndarray, shape: tuple[int, int],
             pad: float) -> np.ndarray:
    if not offset_ij.any() and source.shape == shape:
        return source.astype(np.float32, copy=False)
    return ndimage.affine_transform(
        source.astype(np.float32, copy=False), np.ones(2), offset=(offset_ij[1], offset_ij[0]),
        output_shape=shape, order=1, cval=pad,
    )


def resample_stack(stack: np.ndarray, plan: ResamplePlan, shape: tuple[int, int, int],
                   pad: float) -> np.ndarray:
    """Build the regular grid (shape (K, R, C), float32) from sorted source slices."""
    out = np.empty(shape, dtype=np.float32)
    cache: dict[int, np.ndarray] = {}
    for k in range(shape[0]):
        lower, upper, weight = int(plan.lower[k]), int(plan.upper[k]), float(plan.weight_upper[k])
        for s in (lower, upper):
            if s not in cache:
                cache[s] = _shifted(stack[s], plan.source_offset_ij[s], shape[1:], pad)
        out[k] = (1.0 - weight) * cache[lower] + weight * cache[upper]
        for s in [s for s in cache if s < lower]:
            del cache[s]
    return out


METADATA_KEYWORDS = (
    "Manufacturer",
    "ManufacturerModelName",
    "BodyPartExamined",
    "ProtocolName",
    "ConvolutionKernel",
    "KVP",
    "MagneticFieldStrength",
    "ContrastBolusAgent",
    "StudyDescription",
    "SeriesDate",
)


def _first_header(path: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=True,
                               specific_tags=[*IDENTIFYING_KEYWORDS, *METADATA_KEYWORDS])
    except Exception:  # noqa: BLE001 - identity and descriptions are optional
        return pydicom.Dataset()


def _identity(ds: pydicom.Dataset) -> PatientIdentity:
    return PatientIdentity({k: str(ds.get(k)) for k in IDENTIFYING_KEYWORDS if ds.get(k)})


def _metadata(candidate: SeriesCandidate, ds: pydicom.Dataset) -> dict[str, str]:
    first = candidate.images[0]
    out = {
        "series_uid": candidate.uid or "",
        "series_number": "" if candidate.series_number is None else str(candidate.series_number),
        "series_description": candidate.description,
        "study_uid": first.study_uid or "",
        "frame_of_reference_uid": first.frame_of_reference_uid or "",
        "transfer_syntax": first.transfer_syntax,
        "source_images": str(len(candidate.images)),
    }
    out.update({k: str(ds.get(k)) for k in METADATA_KEYWORDS if ds.get(k) not in (None, "")})
    return out


def load_series(candidate: SeriesCandidate, *, progress: ProgressCallback | None = None,
                workers: int | None = None) -> Volume:
    """Decode a series candidate into a :class:`Volume` in patient LPS millimetres.

    Parameters
    ----------
    candidate : SeriesCandidate
        A candidate from :func:`surgiplan.imaging.scan_folder` with ``is_volume`` true.
    progress : callable, optional
        ``(done, total, label) -> bool | None``; return ``False`` to cancel.
    workers : int, optional
        Processes decoding compressed slices (default: one per core).

    Returns
    -------
    Volume
        Modality values on a regular grid; tilted or irregular stacks are resampled and the
        volume's ``warnings`` say so.

    Raises
    ------
    DicomImportError
        When the candidate is not a volume or its pixels cannot be decoded.
    """
    geometry: StackGeometry | None = candidate.analysis.geometry
    if geometry is None:
        reasons = "; ".join(w.message for w in candidate.warnings if w.code == "not_a_volume")
        raise DicomImportError(f"series {candidate.index} cannot be imported: {reasons}")
    stack = decode_stack(candidate.images, progress=progress, workers=workers)
    if geometry.resample is not None:
        pad = CT_AIR_HU if candidate.modality == "CT" else float(stack.min())
        voxels = resample_stack(stack, geometry.resample, geometry.shape, pad)
    else:
        voxels = stack
    header = _first_header(candidate.images[0].path)
    return Volume(
        voxels=voxels,
        affine_lps=geometry.affine_lps.copy(),
        modality=candidate.modality,
        metadata=_metadata(candidate, header),
        identity=_identity(header),
        warnings=tuple(candidate.warnings),
    )
