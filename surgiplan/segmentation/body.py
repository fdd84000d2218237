"""A body outline computed on a 2x coarser grid, for presets that lie deep inside the body.

The full outline (:func:`surgiplan.segmentation.presets.body_outline`) labels the whole
threshold mask and fills the holes of every axial slice at full resolution: 0.5-1.0 s and
about 0.5 GB on a chest CT. Presets whose structures lie far from the skin (lungs, airway:
``"body_detail": "coarse"`` in the preset table) only need a body that

- contains every voxel of the structures (the body's interior air), and
- holds no air outside the body (else the air around the patient joins the airway).

:func:`coarse_body_mask` builds such a body on 2 x 2 x 2 blocks:

1. A block is *dense* when any of its voxels is in the preset's HU window (any-pooling). An
   enclosed hole of a full-resolution slice stays enclosed on the coarse grid: a coarse path of
   non-dense blocks to the border is a full-resolution path of non-dense voxels to the border.
2. The largest 6-connected dense component, holes filled in every coarse axial slice: upsampled
   to the full grid (nearest), this contains the full-resolution outline.
3. The result is the coarse body's interior (blocks whose 3 x 3 in-plane neighbourhood is in the
   coarse body), upsampled, plus the dense voxels of the coarse body's rim blocks (tissue, never
   air below the window).

It differs from the full outline only near the skin: air of the full outline inside rim blocks
(holes within about 2-4 voxels of the skin) is dropped, and air the full outline leaves outside
but the 2x grid encloses (clefts narrower than a block, e.g. between arm and chest wall) is
included. Air structures far from the skin (lungs, trachea) are kept whole; on the LIDC chest
and the synthetic chest the lung and airway masks are identical with either outline. Presets
near the skin (fat) keep the full outline.
"""

from __future__ import annotations

import numpy as np

from surgiplan.imaging.volume import Volume
from surgiplan.segmentation.morphology import fill_holes_mask, label_components, region_from_box
from surgiplan.segmentation.region import Region

FACTOR = 2
"""Block edge in voxels along every axis."""


def _dense(voxels: np.ndarray, hu_min: float | None, hu_max: float | None) -> np.ndarray:
    """Voxels in the inclusive HU window (an open side is unbounded)."""
    mask = np.ones(voxels.shape, dtype=bool)
    if hu_min is not None:
        np.greater_equal(voxels, hu_min, out=mask)
    if hu_max is not None:
        mask &= voxels <= hu_max
    return mask


def any_pool(mask: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """(ceil(n / factor) per axis) bool array: True where any voxel of the block is True.

    Parameters
    ----------
    mask : (nk, nj, ni) bool ndarray
    factor : int
        Block edge in voxels; the last block of an axis may be shorter.
    """
    if factor == 2 and mask.shape[2] % 2 == 0 and mask.flags.c_contiguous:
        mask = mask.view(np.uint16) != 0  # column pairs as one 2-byte word each
        steps = (factor, factor, 1)
    else:
        steps = (factor, factor, factor)
    for axis, step in enumerate(steps):
        if step == 1:
            continue
        moved = np.moveaxis(mask, axis, 0)
        out = moved[::step].copy()
        for offset in range(1, step):
            part = moved[offset::step]
            out[:len(part)] |= part
        mask = np.moveaxis(out, 0, axis)
    return np.ascontiguousarray(mask)


def upsample(coarse: np.ndarray, shape: tuple[int, ...], factor: int = FACTOR) -> np.ndarray:
    """Nearest upsampling of a uint8 block array to ``shape`` (the blocks' voxels, cropped)."""
    k, j, i = coarse.shape
    if factor == 2:  # each byte doubled along the rows as one 2-byte word: contiguous copies
        rows = (coarse.astype(np.uint16) * 0x0101).view(np.uint8)
    else:
        rows = np.repeat(coarse, factor, axis=2)
    full = np.empty((k * factor, j * factor, i * factor), dtype=np.uint8)
    full.reshape(k, factor, j, factor, i * factor)[...] = rows[:, None, :, None, :]
    return full[:shape[0], :shape[1], :shape[2]]


def _eroded(mask: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``mask`` eroded by a 3-voxel line along each of ``axes`` (outside counts as False)."""
    out = mask.copy()
    for axis in axes:
        moved = np.moveaxis(out, axis, 0)
        before = moved.copy()
        moved[1:] &= before[:-1]
        moved[:-1] &= before[1:]
        moved[0] = False
        moved[-1] = False
    return out


def _box(mask: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of a non-empty mask's true voxels."""
    spans = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
             for axis in range(3)]
    return tuple(slice(int(span[0]), int(span[-1]) + 1) for span in spans)


def _largest(mask: np.ndarray, count: int | None) -> np.ndarray:
    """The ``count`` largest 6-connected components of ``mask`` (all when None)."""
    labels, n = label_components(mask)
    if n == 0 or count is None or n <= count:
        return mask
    sizes = np.bincount(labels[mask], minlength=n + 1)
    sizes[0] = 0
    kept = np.argsort(-sizes, kind="stable")[:count]
    out = np.equal(labels, kept[0])
    for label in kept[1:]:
        out |= labels == label
    return out


def _trimmed(mask: np.ndarray, box: tuple[slice, ...]) -> tuple[np.ndarray, tuple[slice, ...]]:
    """``mask`` and ``box`` without empty planes on the sides (checks the sides only)."""
    lo, hi = [0, 0, 0], list(mask.shape)
    for axis in range(3):
        while hi[axis] > lo[axis] and not np.take(mask, lo[axis], axis=axis).any():
            lo[axis] += 1
        while hi[axis] > lo[axis] and not np.take(mask, hi[axis] - 1, axis=axis).any():
            hi[axis] -= 1
    inner = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    if inner == tuple(slice(0, n) for n in mask.shape):
        return mask, box
    return (np.ascontiguousarray(mask[inner]),
            tuple(slice(s.start + a, s.start + b) for s, a, b in zip(box, lo, hi, strict=True)))


def coarse_body_mask(dense: np.ndarray, *, keep: int | None = 1, slice_axis: int | None = 0,
                     volumetric: bool = False, factor: int = FACTOR) -> tuple[np.ndarray,
                                                                             tuple[slice, ...]]:
    """The conservative body of a full-grid dense mask, in its tight box.

    Parameters
    ----------
    dense : (nk, nj, ni) bool ndarray
        The body preset's threshold on the full grid.
    keep : int or None
        Largest components kept (None: all).
    slice_axis : {0, 1, 2} or None
        Fill holes within each slice across this axis (the axial slices).
    volumetric : bool
        Also fill 3-D cavities.
    factor : int
        Block edge in voxels.

    Returns
    -------
    mask : bool ndarray
        The body in ``box``.
    box : tuple of slice
        The body's extent on the full grid.
    """
    coarse = _largest(any_pool(dense, factor), keep)
    coarse = fill_holes_mask(coarse, slice_axis=slice_axis, volumetric=volumetric)
    if not coarse.any():
        return np.zeros((0, 0, 0), dtype=bool), (slice(0, 0),) * 3
    crop = _box(coarse)
    coarse = np.ascontiguousarray(coarse[crop])
    axes = tuple(a for a in range(3) if a != slice_axis)  # across the slices' own axes
    code = coarse.view(np.uint8) + _eroded(coarse, axes).view(np.uint8)
    box = tuple(slice(c.start * factor, min(c.stop * factor, n))
                for c, n in zip(crop, dense.shape, strict=True))
    shape = tuple(s.stop - s.start for s in box)
    votes = upsample(code, shape, factor)  # 2: interior block, 1: rim block, 0: outside
    votes += dense[box].view(np.uint8)  # a rim block keeps its dense voxels only
    return _trimmed(np.greater_equal(votes, 2), box)


def coarse_body_outline(volume: Volume, hu_min: float | None, hu_max: float | None, *,
                        keep: int | None = 1, slice_axis: int | None = 0,
                        volumetric: bool = False) -> Region:
    """The conservative body outline of ``volume`` (see the module notes) as a region.

    Parameters
    ----------
    volume : Volume
        CT volume in HU.
    hu_min, hu_max : float or None
        The body outline preset's HU window.
    keep, slice_axis, volumetric
        As in :func:`coarse_body_mask`.
    """
    dense = _dense(volume.voxels, hu_min, hu_max)
    mask, box = coarse_body_mask(dense, keep=keep, slice_axis=slice_axis, volumetric=volumetric)
    if not mask.size:
        return region_from_box(mask, (0, 0, 0), volume.shape)
    return Region(mask, tuple(s.start for s in box), tuple(volume.shape))
