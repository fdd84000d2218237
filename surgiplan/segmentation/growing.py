"""Seeded region growing: the connected voxels within an intensity window around a seed.

The search starts in a small box around the seed and doubles the box only while the region
touches its sides, so a small organ never costs full-volume work. Connectivity is 6 (voxels
sharing a face): a region does not leak through a diagonal contact of two voxels.

Example
-------
>>> region = grow_region(volume, seed_lps_mm=(-60.0, -10.0, 30.0),   # doctest: +SKIP
...                      tolerance_hu=60, max_volume_ml=3000)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation.morphology import label_components, region_from_box
from surgiplan.segmentation.region import Region

INITIAL_HALF_BOX_MM = 24.0
SEED_NEIGHBOURHOOD = 1  # the seed value is the mean of the (2n+1)^3 voxels around the seed


class RegionLeakError(InputError):
    """A grown region exceeded its volume limit: it has leaked into neighbouring tissue.

    Attributes
    ----------
    volume_ml : float
        Volume reached when growing stopped (a lower bound of the leaked region's volume).
    max_volume_ml : float
        The limit that was exceeded.
    """

    def __init__(self, volume_ml: float, max_volume_ml: float, what: str = "grown region"):
        self.volume_ml = float(volume_ml)
        self.max_volume_ml = float(max_volume_ml)
        super().__init__(
            f"the {what} leaked into neighbouring tissue: it reached {volume_ml:.1f} mL, more "
            f"than the {max_volume_ml:.1f} mL allowed. Narrow the intensity window (a smaller "
            "tolerance), set a maximum radius around the seed, or raise the volume limit if the "
            "structure really is that large")


def _seed_kji(volume: Volume, seed_lps_mm, seed_ijk) -> np.ndarray:
    """Seed as an integer (k, j, i) index inside the grid, from exactly one of the two forms."""
    if (seed_lps_mm is None) == (seed_ijk is None):
        raise InputError("give the seed either as seed_lps_mm (patient millimetres) or as "
                         "seed_ijk (voxel indices), not both or neither")
    if seed_lps_mm is not None:
        point = np.asarray(seed_lps_mm, dtype=float).reshape(3)
        ijk = volume.lps_to_ijk(point)[0]
        where = f"LPS ({', '.join(f'{v:.1f}' for v in point)}) mm"
    else:
        ijk = np.asarray(seed_ijk, dtype=float).reshape(3)
        where = f"voxel (i, j, k) = ({', '.join(f'{v:g}' for v in ijk)})"
    if not np.all(np.isfinite(ijk)):
        raise InputError(f"the seed {where} is not a finite position: click inside the scan")
    kji = np.rint(ijk[::-1]).astype(int)
    if np.any(kji < 0) or np.any(kji >= np.asarray(volume.shape)):
        size = " x ".join(str(n) for n in volume.shape[::-1])
        raise InputError(f"the seed {where} lies outside the scan ({size} voxels): "
                         "place the seed inside the volume")
    return kji


def _search_limits(volume: Volume, seed: np.ndarray,
                   max_radius_mm: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Index bounds [lo, hi) in (k, j, i) that the search may never leave."""
    shape = np.asarray(volume.shape)
    if max_radius_mm is None:
        return np.zeros(3, dtype=int), shape
    if not max_radius_mm > 0:
        raise InputError(f"max_radius_mm must be positive, got {max_radius_mm}")
    # Half-extent along index axis n of a sphere of radius r: r * sqrt((A^T A)^-1)_nn.
    metric_inv = np.linalg.inv(volume.affine_lps[:3, :3].T @ volume.affine_lps[:3, :3])
    half_ijk = np.ceil(max_radius_mm * np.sqrt(np.diag(metric_inv))).astype(int)
    half = half_ijk[::-1]
    return np.maximum(seed - half, 0), np.minimum(seed + half + 1, shape)


def _box_values(volume: Volume, lo: np.ndarray, hi: np.ndarray,
                sigma_mm: float) -> np.ndarray:
    """float32 voxel values of the box [lo, hi), Gaussian-smoothed when ``sigma_mm`` > 0."""
    if sigma_mm <= 0:
        return volume.voxels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    sigma_kji = sigma_mm / np.asarray(volume.spacing_mm[::-1])
    margin = np.ceil(4 * sigma_kji).astype(int)
    outer_lo = np.maximum(lo - margin, 0)
    outer_hi = np.minimum(hi + margin, np.asarray(volume.shape))
    outer = volume.voxels[outer_lo[0]:outer_hi[0], outer_lo[1]:outer_hi[1],
                          outer_lo[2]:outer_hi[2]].astype(np.float32)
    smooth = ndi.gaussian_filter(outer, sigma_kji, mode="nearest")
    inner = tuple(slice(int(a), int(b)) for a, b in zip(lo - outer_lo, hi - outer_lo,
                                                         strict=True))
    return smooth[inner]


def _sphere_mask(volume: Volume, lo: np.ndarray, hi: np.ndarray, seed: np.ndarray,
                 radius_mm: float) -> np.ndarray:
    """Voxels of the box [lo, hi) whose centres lie within ``radius_mm`` of the seed's."""
    dk, dj, di = (np.arange(a, b) - s for a, b, s in zip(lo, hi, seed, strict=True))
    axes = volume.affine_lps[:3, :3]
    squared = np.zeros(tuple(int(v) for v in hi - lo), dtype=np.float64)
    for row in axes:
        squared += (row[0] * di[None, None, :] + row[1] * dj[None, :, None]
                    + row[2] * dk[:, None, None]) ** 2
    return squared <= radius_mm ** 2 + 1e-9


def _window(values: np.ndarray, seed_local: np.ndarray, window_hu, tolerance_hu: float
            ) -> tuple[float, float]:
    if window_hu is not None:
        low, high = (float(v) for v in window_hu)
        if not low <= high:
            raise InputError(f"the intensity window {window_hu} is empty: give (low, high) "
                             "with low <= high")
        return low, high
    if not tolerance_hu >= 0:
        raise InputError(f"tolerance_hu must be 0 or more, got {tolerance_hu}")
    n = SEED_NEIGHBOURHOOD
    lo = np.maximum(seed_local - n, 0)
    patch = values[lo[0]:seed_local[0] + n + 1, lo[1]:seed_local[1] + n + 1,
                   lo[2]:seed_local[2] + n + 1]
    centre = float(patch.mean())
    return centre - tolerance_hu, centre + tolerance_hu


def _touches_open_side(component: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       limit_lo: np.ndarray, limit_hi: np.ndarray) -> bool:
    """Whether the component reaches a side of the box that could still move outwards."""
    for axis in range(3):
        first = np.take(component, 0, axis=axis)
        last = np.take(component, component.shape[axis] - 1, axis=axis)
        if (lo[axis] > limit_lo[axis] and first.any()) or (
                hi[axis] < limit_hi[axis] and last.any()):
            return True
    return False


def grow_region(volume: Volume, *, seed_lps_mm: Sequence[float] | None = None,
                seed_ijk: Sequence[float] | None = None,
                window_hu: tuple[float, float] | None = None, tolerance_hu: float = 100.0,
                max_volume_ml: float | None = None, max_radius_mm: float | None = None,
                smoothing_sigma_mm: float = 0.0,
                progress: ProgressCallback | None = None) -> Region:
    """The 6-connected region around a seed whose values lie in an intensity window.

    Parameters
    ----------
    volume : Volume
        The scan (HU for CT).
    seed_lps_mm : (3,) float, optional
        Seed in patient LPS millimetres (rounded to the nearest voxel).
    seed_ijk : (3,) float, optional
        Seed as voxel indices (i, j, k) = (column, row, slice). Give exactly one seed form.
    window_hu : (low, high), optional
        Inclusive intensity window. Default: the seed value (mean of the 3x3x3 voxels around
        the seed, after smoothing) +/- ``tolerance_hu``.
    tolerance_hu : float
        Half-width of the default window.
    max_volume_ml : float, optional
        Leak guard: :class:`RegionLeakError` when the region grows beyond this volume.
    max_radius_mm : float, optional
        Leak guard: only voxels whose centres lie within this distance of the seed may join.
    smoothing_sigma_mm : float
        Gaussian pre-smoothing (standard deviation in mm) of the values the window tests;
        0 disables it. Only the search box is smoothed.
    progress : callable, optional
        ``(done, total, label)`` callback, one step per search box.

    Returns
    -------
    Region
        The grown region on the volume's grid, in its tightest box.

    Raises
    ------
    InputError
        Seed missing, outside the grid, or outside the window.
    RegionLeakError
        The region exceeded ``max_volume_ml``.
    """
    seed = _seed_kji(volume, seed_lps_mm, seed_ijk)
    limit_lo, limit_hi = _search_limits(volume, seed, max_radius_mm)
    voxel_ml = abs(float(np.linalg.det(volume.affine_lps[:3, :3]))) / 1000.0
    half = np.maximum(np.ceil(INITIAL_HALF_BOX_MM / np.asarray(volume.spacing_mm[::-1])), 2)
    half = half.astype(int)
    window = None
    rounds = int(np.ceil(np.log2(max(float(np.max(np.asarray(volume.shape) / half)), 1.0)))) + 1
    step = 0
    while True:
        report(progress, step, rounds, "growing region")
        lo, hi = np.maximum(seed - half, limit_lo), np.minimum(seed + half + 1, limit_hi)
        values = _box_values(volume, lo, hi, smoothing_sigma_mm)
        if window is None:
            window = _window(values, seed - lo, window_hu, tolerance_hu)
        allowed = (values >= window[0]) & (values <= window[1])
        if max_radius_mm is not None:
            allowed &= _sphere_mask(volume, lo, hi, seed, max_radius_mm)
        component = _seed_component(allowed, values, seed - lo, window)
        volume_ml = np.count_nonzero(component) * voxel_ml
        if max_volume_ml is not None and volume_ml > max_volume_ml:
            raise RegionLeakError(volume_ml, max_volume_ml)
        if not _touches_open_side(component, lo, hi, limit_lo, limit_hi):
            break
        half, step = half * 2, step + 1
    report(progress, rounds, rounds, "growing region")
    return region_from_box(component, lo, volume.shape)


def _seed_component(allowed: np.ndarray, values: np.ndarray, seed_local: np.ndarray,
                    window: tuple[float, float]) -> np.ndarray:
    """The 6-connected component of ``allowed`` holding the seed (InputError if not allowed)."""
    seed = tuple(int(v) for v in seed_local)
    if not allowed[seed]:
        value = float(values[seed])
        raise InputError(f"the seed voxel's value {value:.0f} lies outside the intensity window "
                         f"[{window[0]:.0f}, {window[1]:.0f}]: place the seed inside the "
                         "structure or widen the window")
    labels, _ = label_components(allowed)
    return labels == labels[seed]
