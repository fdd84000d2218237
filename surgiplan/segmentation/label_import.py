"""Import label maps made elsewhere (TotalSegmentator, nnU-Net, 3D Slicer) onto a volume's grid.

The file's voxels are placed by their world (patient) coordinates, never by array position:

- NIfTI affines are RAS; ``affine_lps = diag(-1, -1, 1, 1) @ affine_ras``. NRRD files give
  ``space directions``/``space origin`` in a ``left-posterior-superior`` or
  ``right-anterior-superior`` space. Both are read by
  :func:`surgiplan.imaging.volume_io.read_volume`.
- When the file's grid is the volume's grid up to a signed permutation of the axes (e.g. rows
  stored bottom-up, as a NIfTI written in RAS order), the labels are reordered exactly.
- Otherwise every target voxel takes the label at the nearest source voxel centre (nearest
  neighbour, no interpolation between label values), one target slice at a time.

Example
-------
>>> labels = import_label_map("segmentation.nii.gz", shape=volume.shape,   # doctest: +SKIP
...                           affine_lps=volume.affine_lps)
>>> labels.names[:3]                                                     # doctest: +SKIP
['spleen', 'liver', 'stomach']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from surgiplan.errors import InputError
from surgiplan.imaging.volume_io import read_volume
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation.anatomy import structure_info
from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from surgiplan.segmentation.totalsegmentator import scheme_table

MAX_LABEL = np.iinfo(np.uint16).max
_GRID_TOLERANCE_VOXELS = 1e-2


def _label_voxels(voxels: np.ndarray, name: str) -> np.ndarray:
    """The file's voxels as uint16 labels; :class:`InputError` if they are not a label map."""
    if np.issubdtype(voxels.dtype, np.floating):
        if not np.all(np.isfinite(voxels)) or np.any(voxels != np.round(voxels)):
            raise InputError(f"{name} holds non-integer values: it is an image or a probability "
                             "map, not a label map (threshold it into integer labels first)")
    if voxels.size == 0 or voxels.min() < 0 or voxels.max() > MAX_LABEL:
        raise InputError(f"{name} holds labels outside 0..{MAX_LABEL}: a label map has "
                         "non-negative integer labels (is this an image rather than labels?)")
    labels = voxels.astype(np.uint16)
    if not labels.any():
        raise InputError(f"{name} holds no labels (every voxel is 0): export the segmentation "
                         "again, with its structures")
    return labels


def _signed_permutation(target_to_source: np.ndarray) -> bool:
    """Whether the 4x4 target->source index map only permutes and flips axes by whole voxels."""
    rotation, shift = target_to_source[:3, :3], target_to_source[:3, 3]
    rounded = np.round(rotation)
    one_per_axis = (np.abs(rounded).sum(axis=0) == 1).all() and (
        np.abs(rounded).sum(axis=1) == 1).all()
    return bool(one_per_axis and np.abs(rotation - rounded).max() < 1e-4
                and np.abs(shift - np.round(shift)).max() < _GRID_TOLERANCE_VOXELS)


def _reorder(source_kji: np.ndarray, target_to_source: np.ndarray,
             shape_kji: Sequence[int]) -> np.ndarray:
    """Exact copy for grids related by a signed axis permutation (voxels outside stay 0)."""
    rotation = np.round(target_to_source[:3, :3]).astype(int)
    shift = np.round(target_to_source[:3, 3]).astype(int)
    source_ijk = source_kji.transpose(2, 1, 0)
    axes = [int(np.argmax(np.abs(rotation[:, a]))) for a in range(3)]  # source axis per target
    aligned = source_ijk.transpose(axes)
    out_kji = np.zeros(tuple(int(n) for n in shape_kji), dtype=np.uint16)
    out_ijk = out_kji.transpose(2, 1, 0)
    picks, keeps = [], []
    for axis in range(3):
        index = rotation[axes[axis], axis] * np.arange(out_ijk.shape[axis]) + shift[axes[axis]]
        keep = (index >= 0) & (index < aligned.shape[axis])
        picks.append(index[keep])
        keeps.append(np.flatnonzero(keep))
    if all(len(p) for p in picks):
        out_ijk[np.ix_(*keeps)] = aligned[np.ix_(*picks)]
    return out_kji


def _resample_nearest(source_kji: np.ndarray, target_to_source: np.ndarray,
                      shape_kji: Sequence[int],
                      progress: ProgressCallback | None) -> np.ndarray:
    """Nearest-neighbour labels on the target grid, one target slice at a time."""
    nk, nj, ni = (int(n) for n in shape_kji)
    out = np.zeros((nk, nj, ni), dtype=np.uint16)
    rotation, shift = target_to_source[:3, :3], target_to_source[:3, 3]
    j, i = np.meshgrid(np.arange(nj), np.arange(ni), indexing="ij")
    in_plane = rotation[:, 0, None, None] * i + rotation[:, 1, None, None] * j  # (3, nj, ni)
    limits = np.array(source_kji.shape[::-1])[:, None, None]
    for k in range(nk):
        report(progress, k, nk, "resampling labels")
        source = np.floor(in_plane + (rotation[:, 2] * k + shift)[:, None, None] + 0.5)
        source = source.astype(np.int64)
        inside = np.all((source >= 0) & (source < limits), axis=0)
        if inside.any():
            si, sj, sk = (axis[inside] for axis in source)
            out[k][inside] = source_kji[sk, sj, si]
    report(progress, nk, nk, "resampling labels")
    return out


def _structure_names(ids: Sequence[int], names: Mapping[int, str] | None,
                     scheme: str | None) -> dict[int, str]:
    given = {int(k): str(v) for k, v in (names or {}).items()}
    table = scheme_table(scheme) if scheme is not None else {}
    return {i: given.get(i) or table.get(i) or f"label_{i}" for i in ids}


def _structures(labels: np.ndarray, names: Mapping[int, str] | None,
                scheme: str | None) -> list[StructureInfo]:
    counts = np.bincount(labels.ravel(), minlength=1)
    ids = [int(i) for i in np.flatnonzero(counts) if i != 0]
    by_id = _structure_names(ids, names, scheme)
    duplicated = sorted({n for n in by_id.values() if list(by_id.values()).count(n) > 1})
    if duplicated:
        raise InputError(f"several labels are named {duplicated[0]!r}: give each label its own "
                         "name")
    return [structure_info(by_id[i], i) for i in ids]


def import_label_map(path: str | os.PathLike[str], *, shape: tuple[int, int, int],
                     affine_lps: np.ndarray, names: Mapping[int, str] | None = None,
                     scheme: str | None = "totalsegmentator",
                     progress: ProgressCallback | None = None) -> LabelMap:
    """Read a NIfTI or NRRD label map and place it on a volume's grid.

    Parameters
    ----------
    path : path-like
        ``.nii``, ``.nii.gz`` or ``.nrrd`` file of integer labels (0 = background).
    shape : (3,) int
        Target grid (slices, rows, columns), i.e. :attr:`Volume.shape`.
    affine_lps : (4, 4) float ndarray
        Target voxel (i, j, k, 1) -> LPS millimetres, i.e. :attr:`Volume.affine_lps`.
    names : dict of int -> str, optional
        Names of label ids; they win over the scheme.
    scheme : str or None
        Built-in id -> name table for ids without a given name (see
        :mod:`surgiplan.segmentation.totalsegmentator`; default TotalSegmentator v2 ``total``);
        ``None``: unnamed ids are called ``"label_<id>"``.
    progress : callable, optional
        ``(done, total, label)`` callback while resampling.

    Returns
    -------
    LabelMap
        uint16 labels on the target grid, keeping the file's ids; one structure per id present
        on the grid, with tissue and critical flag from :func:`anatomy.structure_info`.

    Raises
    ------
    InputError
        Unreadable file, non-integer (not a label) data, no labels, or no overlap with the volume.
    """
    affine_lps = np.asarray(affine_lps, dtype=float)
    shape = tuple(int(n) for n in shape)
    if affine_lps.shape != (4, 4) or len(shape) != 3:
        raise InputError("the target grid needs a (slices, rows, columns) shape and a 4x4 affine")
    source = read_volume(path)
    name = os.path.basename(os.fspath(path))
    source_labels = _label_voxels(source.voxels, name)
    target_to_source = np.linalg.inv(source.affine_lps) @ affine_lps
    if _signed_permutation(target_to_source):
        labels = _reorder(source_labels, target_to_source, shape)
    else:
        labels = _resample_nearest(source_labels, target_to_source, shape, progress)
    if not labels.any():
        raise InputError(f"the label map {name} does not overlap the volume in patient "
                         "coordinates: it was made on another scan or another frame of "
                         "reference (import the labels made on this series)")
    return LabelMap(labels, affine_lps.copy(), _structures(labels, names, scheme))
