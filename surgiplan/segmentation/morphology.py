"""Clean-up and margins on :class:`Region` masks, computed inside each region's own box.

Every function returns a new region in its tightest box; inputs are never changed. Work arrays
are the size of the region's box plus the margin, never of the whole grid.

Conventions
-----------
- Connectivity: components are 6-connected (voxels sharing a face), so a diagonal touch of two
  voxels does not merge two islands. They are labelled by ``cc3d`` (connected-components-3d),
  numbered in raster order like :func:`scipy.ndimage.label`.
- ``spacing_mm`` is ``(column, row, slice)`` spacing, i.e. :attr:`Volume.spacing_mm` (i, j, k).
- Margins are exact Euclidean distances between voxel centres
  (:func:`scipy.ndimage.distance_transform_edt` with ``sampling``; small margins dilate by the
  identical ball of voxel offsets, which is faster), so anisotropic voxels get
  the same margin in millimetres along every direction. Outside the grid counts as background.
  A margin is resolved to the voxel grid: the grown surface lies within half a voxel diagonal
  of the ideal one (with 2.5 mm slices a 4 mm margin on a sphere gives ~6 % less volume).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cc3d
import numpy as np
from scipy import ndimage as ndi

from surgiplan.errors import InputError
from surgiplan.segmentation.region import Region

FACE_CONNECTIVITY = ndi.generate_binary_structure(3, 1)
_EPSILON_MM = 1e-6
MAX_ELEMENT_VOXELS = 64
"""Margins whose ball of voxel offsets has at most this many voxels dilate by that ball."""


def region_from_box(mask: np.ndarray, offset_kji: Sequence[int],
                    grid_shape: Sequence[int]) -> Region:
    """A region from a box mask whose box may reach beyond the grid (cropped, then tightened).

    Parameters
    ----------
    mask : (nk, nj, ni) bool ndarray
        The box, indexed ``[k, j, i]``.
    offset_kji : (3,) int
        Grid index of the box's first voxel; may be negative.
    grid_shape : (3,) int
        Shape (slices, rows, columns) of the grid.
    """
    offset = np.asarray(offset_kji, dtype=int)
    grid = np.asarray(grid_shape, dtype=int)
    lo = np.maximum(offset, 0)
    hi = np.minimum(offset + np.asarray(mask.shape), grid)
    shape = tuple(int(g) for g in grid)
    if np.any(hi <= lo):
        return Region(np.zeros((0, 0, 0), dtype=bool), (0, 0, 0), shape)
    inner = tuple(slice(int(a), int(b)) for a, b in zip(lo - offset, hi - offset, strict=True))
    cropped = Region(np.asarray(mask[inner], dtype=bool), tuple(int(v) for v in lo), shape)
    return cropped.tight()


def paste(box: np.ndarray, box_offset_kji: Sequence[int], region: Region) -> np.ndarray:
    """The part of ``region`` that falls in ``box``'s extent, as a bool array shaped like ``box``.

    Parameters
    ----------
    box : (nk, nj, ni) ndarray
        Only its shape is used.
    box_offset_kji : (3,) int
        Grid index of the box's first voxel.
    region : Region
        A region on the same grid.
    """
    out = np.zeros(box.shape, dtype=bool)
    if region.is_empty:
        return out
    box_lo = np.asarray(box_offset_kji, dtype=int)
    reg_lo = np.asarray(region.offset_kji, dtype=int)
    lo = np.maximum(box_lo, reg_lo)
    hi = np.minimum(box_lo + np.asarray(box.shape), reg_lo + np.asarray(region.mask.shape))
    if np.any(hi <= lo):
        return out
    in_box = tuple(slice(int(a), int(b)) for a, b in zip(lo - box_lo, hi - box_lo, strict=True))
    in_reg = tuple(slice(int(a), int(b)) for a, b in zip(lo - reg_lo, hi - reg_lo, strict=True))
    out[in_box] = region.mask[in_reg]
    return out


def _padded_box(region: Region, pad_kji: Sequence[int], *,
                clip: bool) -> tuple[np.ndarray, np.ndarray]:
    """``region``'s mask in a box grown by ``pad_kji`` voxels a side; (box, offset_kji)."""
    pad = np.asarray(pad_kji, dtype=int)
    lo = np.asarray(region.offset_kji, dtype=int) - pad
    hi = np.asarray(region.offset_kji, dtype=int) + np.asarray(region.mask.shape) + pad
    if clip:
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, np.asarray(region.grid_shape))
    box = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
    return paste(box, lo, region), lo


def _sampling_kji(spacing_mm: Sequence[float]) -> np.ndarray:
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InputError(f"voxel spacing must be three positive millimetre values, got "
                         f"{tuple(spacing_mm)}: pass Volume.spacing_mm")
    return spacing[::-1].copy()


def _check_margin(margin_mm: float, what: str) -> float:
    margin = float(margin_mm)
    if not math.isfinite(margin) or margin < 0:
        raise InputError(f"the {what} must be a distance of 0 mm or more, got {margin_mm}")
    return margin


def _pad_voxels(margin_mm: float, sampling_kji: np.ndarray, extra: int) -> np.ndarray:
    return np.ceil(margin_mm / sampling_kji).astype(int) + extra


def ball_element(margin_mm: float, sampling_kji: np.ndarray) -> np.ndarray:
    """Structuring element of the voxel offsets within ``margin_mm`` (an ellipsoid in voxels).

    Parameters
    ----------
    margin_mm : float
        Radius in millimetres (>= 0).
    sampling_kji : (3,) float ndarray
        Voxel spacing in mm along the array axes (k, j, i).

    Returns
    -------
    (2 rk + 1, 2 rj + 1, 2 ri + 1) bool ndarray
        True where the centre-to-centre distance of the offset is at most the margin.
    """
    radius = np.floor((margin_mm + _EPSILON_MM) / sampling_kji).astype(int)
    axes = [np.arange(-r, r + 1) * s for r, s in zip(radius, sampling_kji, strict=True)]
    dk, dj, di = np.meshgrid(*axes, indexing="ij", sparse=True)
    return dk ** 2 + dj ** 2 + di ** 2 <= (margin_mm + _EPSILON_MM) ** 2


def _dilate_box(box: np.ndarray, margin_mm: float, sampling_kji: np.ndarray) -> np.ndarray:
    """Voxels within ``margin_mm`` of the box's true voxels (the box must hold the margin).

    Small margins (at most ``MAX_ELEMENT_VOXELS`` offsets, e.g. the 1 mm airway margin: the
    6-neighbour cross on 0.8 x 0.8 x 1 mm voxels) dilate by the ball of voxel offsets, about
    ten times faster than a distance transform and identical to it: a voxel lies within the
    margin of the mask exactly when its offset to some mask voxel does.
    """
    if not box.any():
        return box.copy()
    element = ball_element(margin_mm, sampling_kji)
    if np.count_nonzero(element) <= MAX_ELEMENT_VOXELS:
        return ndi.binary_dilation(box, structure=element)
    return ndi.distance_transform_edt(~box, sampling=sampling_kji) <= margin_mm + _EPSILON_MM


def _erode_box(box: np.ndarray, margin_mm: float, sampling_kji: np.ndarray) -> np.ndarray:
    """Voxels farther than ``margin_mm`` from every false voxel (box edge must be false)."""
    return ndi.distance_transform_edt(box, sampling=sampling_kji) > margin_mm + _EPSILON_MM


def grow(region: Region, margin_mm: float, spacing_mm: Sequence[float]) -> Region:
    """Every voxel whose centre lies within ``margin_mm`` of a voxel of ``region``.

    Parameters
    ----------
    region : Region
    margin_mm : float
        Margin in millimetres (>= 0).
    spacing_mm : (3,) float
        (column, row, slice) spacing, :attr:`Volume.spacing_mm`.
    """
    margin = _check_margin(margin_mm, "margin")
    if region.is_empty or margin == 0:
        return region.tight()
    sampling = _sampling_kji(spacing_mm)
    box, lo = _padded_box(region, _pad_voxels(margin, sampling, 1), clip=True)
    return region_from_box(_dilate_box(box, margin, sampling), lo, region.grid_shape)


def shrink(region: Region, margin_mm: float, spacing_mm: Sequence[float]) -> Region:
    """The voxels of ``region`` farther than ``margin_mm`` from any voxel outside it.

    Voxels beyond the grid count as outside, so a region cut by the scan's edge also shrinks
    from that edge.
    """
    margin = _check_margin(margin_mm, "margin")
    if region.is_empty or margin == 0:
        return region.tight()
    sampling = _sampling_kji(spacing_mm)
    box, lo = _padded_box(region, (1, 1, 1), clip=False)
    return region_from_box(_erode_box(box, margin, sampling), lo, region.grid_shape)


def opening(region: Region, radius_mm: float, spacing_mm: Sequence[float]) -> Region:
    """Shrink then grow by ``radius_mm``: removes parts thinner than about 2 x radius."""
    radius = _check_margin(radius_mm, "opening radius")
    opened = grow(shrink(region, radius, spacing_mm), radius, spacing_mm)
    return intersection(opened, region)


def closing(region: Region, radius_mm: float, spacing_mm: Sequence[float]) -> Region:
    """Grow then shrink by ``radius_mm``: bridges gaps and fills dents narrower than 2 x radius.

    The work box extends beyond the grid so the scan's edge does not eat into the result; the
    result always contains ``region``.
    """
    radius = _check_margin(radius_mm, "closing radius")
    if region.is_empty or radius == 0:
        return region.tight()
    sampling = _sampling_kji(spacing_mm)
    box, lo = _padded_box(region, _pad_voxels(radius, sampling, 2), clip=False)
    closed = _erode_box(_dilate_box(box, radius, sampling), radius, sampling) | box
    return region_from_box(closed, lo, region.grid_shape)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """6-connected component labels of a 3-D ``mask`` and their count.

    Labels are numbered 1..n in C (raster) order of first appearance, as
    :func:`scipy.ndimage.label` numbers them, but computed by ``cc3d`` (connected-components-3d),
    2-5x faster on CT masks with thousands of fragments (the chest's airway candidate: 0.13 s
    instead of 0.6 s). The dtype is the smallest unsigned type that holds the labels.
    """
    return _labels(mask, 6)


def _labels(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """cc3d labels of a 2-D (4-connected) or 3-D (6-connected) bool mask, raster-numbered."""
    labels, n = cc3d.connected_components(np.ascontiguousarray(mask, dtype=bool),
                                          connectivity=connectivity, return_N=True)
    return labels, int(n)


def keep_largest(region: Region, count: int = 1) -> Region:
    """The ``count`` largest 6-connected islands of ``region`` (ties: the first found)."""
    if count < 1:
        raise InputError(f"keep at least one island, got count={count}")
    labels, n = label_components(region.mask)
    if n <= count:
        return region.tight()
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.argsort(-sizes, kind="stable")[:count] + 1] = True
    return region_from_box(keep[labels], region.offset_kji, region.grid_shape)


def keep_island(region: Region, point_ijk: Sequence[float]) -> Region:
    """The 6-connected island of ``region`` that contains voxel ``point_ijk`` = (i, j, k)."""
    local = np.rint(np.asarray(point_ijk, dtype=float)[::-1]).astype(int)
    local -= np.asarray(region.offset_kji)
    inside = np.all(local >= 0) and np.all(local < np.asarray(region.mask.shape))
    if not inside or not region.mask[tuple(local)]:
        raise InputError(f"voxel (i, j, k) = {tuple(point_ijk)} is not part of the region: "
                         "pick a voxel on the island to keep")
    labels, _ = label_components(region.mask)
    return region_from_box(labels == labels[tuple(local)], region.offset_kji, region.grid_shape)


def _enclosed(background: np.ndarray) -> np.ndarray:
    """Background voxels not connected (faces in 3-D, edges in 2-D) to the array's border."""
    labels, n = _labels(background, 4 if background.ndim == 2 else 6)
    if n == 0:
        return np.zeros(background.shape, dtype=bool)
    outside = np.zeros(n + 1, dtype=bool)
    outside[0] = True
    for axis in range(background.ndim):
        for end in (0, background.shape[axis] - 1):
            outside[np.take(labels, end, axis=axis)] = True
    return ~outside[labels]


def fill_holes_mask(mask: np.ndarray, *, slice_axis: int | None = None,
                    volumetric: bool = True) -> np.ndarray:
    """Fill the enclosed background of a box mask (array version of :func:`fill_holes`)."""
    filled = np.array(mask, dtype=bool, copy=True)
    if slice_axis is not None:
        moved = np.moveaxis(filled, slice_axis, 0)  # a view: filling it fills ``filled``
        for index in range(moved.shape[0]):
            if moved[index].any():
                moved[index] |= _enclosed(~moved[index])
    if volumetric and filled.any():
        filled |= _enclosed(~filled)
    return filled


def fill_holes(region: Region, *, slice_axis: int | None = None,
               volumetric: bool = True) -> Region:
    """Fill background fully enclosed by ``region``.

    Parameters
    ----------
    region : Region
    slice_axis : {0, 1, 2}, optional
        Also fill, slice by slice across this array axis (0: k, the slices of an axial scan),
        background enclosed within each 2-D slice, e.g. lungs and trachea of a body outline,
        which in 3-D are open to the airway at the top of the scan.
    volumetric : bool
        Fill 3-D cavities (background not 6-connected to the box border). Background touching
        the grid's edge is not a hole.
    """
    if slice_axis is not None and slice_axis not in (0, 1, 2):
        raise InputError(f"slice_axis must be 0, 1 or 2 (k, j, i), got {slice_axis}")
    if region.is_empty:
        return region.tight()
    filled = fill_holes_mask(region.mask, slice_axis=slice_axis, volumetric=volumetric)
    return region_from_box(filled, region.offset_kji, region.grid_shape)


def _check_same_grid(a: Region, b: Region) -> None:
    if tuple(a.grid_shape) != tuple(b.grid_shape):
        raise InputError(f"the two structures lie on different grids ({tuple(a.grid_shape)} and "
                         f"{tuple(b.grid_shape)}): combine structures of the same volume")


def _bounds(region: Region) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(region.offset_kji, dtype=int)
    return lo, lo + np.asarray(region.mask.shape)


def union(a: Region, b: Region) -> Region:
    """Voxels in ``a`` or ``b`` (same grid, boxes may differ)."""
    _check_same_grid(a, b)
    if a.is_empty or b.is_empty:
        return (b if a.is_empty else a).tight()
    (a_lo, a_hi), (b_lo, b_hi) = _bounds(a), _bounds(b)
    lo, hi = np.minimum(a_lo, b_lo), np.maximum(a_hi, b_hi)
    box = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
    return region_from_box(paste(box, lo, a) | paste(box, lo, b), lo, a.grid_shape)


def intersection(a: Region, b: Region) -> Region:
    """Voxels in both ``a`` and ``b``."""
    _check_same_grid(a, b)
    if a.is_empty or b.is_empty:
        return region_from_box(np.zeros((0, 0, 0), dtype=bool), (0, 0, 0), a.grid_shape)
    return region_from_box(a.mask & paste(a.mask, a.offset_kji, b), a.offset_kji, a.grid_shape)


def difference(a: Region, b: Region) -> Region:
    """Voxels in ``a`` and not in ``b``."""
    _check_same_grid(a, b)
    if a.is_empty or b.is_empty:
        return a.tight()
    return region_from_box(a.mask & ~paste(a.mask, a.offset_kji, b), a.offset_kji, a.grid_shape)
