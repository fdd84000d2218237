"""Voxel-axis slice planes of a volume and their display mapping (window/level), Qt-free.

Display pixel coordinates: pixel ``(x, y)`` of a plane image is ``values[y, x]``; integer
coordinates are pixel (voxel) centres, so the pixel covers ``[x - 0.5, x + 0.5)``. Rows go down
the screen; slice axes (k) are shown with the last slice at the top (superior up for an axial
scan). The mapping is along voxel axes, so it is exact for oblique affines too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from surgiplan.imaging.volume import Volume


class Plane(Enum):
    """The three voxel-axis planes; for an axial scan they are axial, coronal and sagittal."""

    AXIAL = 0  # fixed k: shows (rows j, columns i)
    CORONAL = 1  # fixed j: shows (slices k, columns i)
    SAGITTAL = 2  # fixed i: shows (slices k, rows j)


@dataclass(frozen=True)
class WindowLevel:
    """Display window: ``center`` and ``width`` in modality units (HU for CT)."""

    name: str
    center: float
    width: float

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.center + self.width / 2.0


#: Standard CT windows (HU): soft tissue, lung, bone, brain, liver; MR gets an automatic one.
CT_PRESETS = (
    WindowLevel("Soft tissue", 40.0, 400.0),
    WindowLevel("Lung", -600.0, 1500.0),
    WindowLevel("Bone", 400.0, 1800.0),
    WindowLevel("Brain", 40.0, 80.0),
    WindowLevel("Liver", 60.0, 160.0),
)


def preset_named(name: str) -> WindowLevel:
    """The CT preset called ``name`` (case-insensitive, e.g. ``"lung"``); KeyError otherwise."""
    for preset in CT_PRESETS:
        if preset.name.lower() == name.lower():
            return preset
    known = ", ".join(p.name for p in CT_PRESETS)
    raise KeyError(f"no window preset {name!r} (presets: {known})")


def automatic_window(volume: Volume) -> WindowLevel:
    """A window covering the 1st to 99th percentile of a subsample of the voxels (for MR)."""
    sample = np.asarray(volume.voxels).ravel()[:: max(1, volume.voxels.size // 200_000)]
    low, high = np.percentile(sample, [1.0, 99.0])
    width = max(float(high - low), 1.0)
    return WindowLevel("Automatic", float(low) + width / 2.0, width)


def presets_for(volume: Volume) -> tuple[WindowLevel, ...]:
    """CT presets for CT, an automatic window first otherwise."""
    if volume.modality == "CT":
        return CT_PRESETS
    return (automatic_window(volume),)


@dataclass(frozen=True)
class PlaneImage:
    """One displayed plane.

    Attributes
    ----------
    values : (height, width) ndarray
        Modality values, row 0 at the top of the screen.
    pixel_mm : tuple of float
        (horizontal, vertical) size of a displayed pixel in millimetres.
    """

    plane: Plane
    index: int
    values: np.ndarray
    pixel_mm: tuple[float, float]


def plane_count(volume: Volume, plane: Plane) -> int:
    """Number of slices available in ``plane``."""
    slices, rows, columns = volume.shape
    return (slices, rows, columns)[plane.value]


def plane_slice(array_kji: np.ndarray, plane: Plane, index: int) -> np.ndarray:
    """One plane of any array on the volume grid, oriented like :func:`extract_plane`.

    Parameters
    ----------
    array_kji : (slices, rows, columns) ndarray
        Voxel data indexed ``[k, j, i]`` (a volume's voxels, a label map...).
    plane, index
        Which plane and which slice of it (clipped to the grid).

    Returns
    -------
    (height, width) ndarray
        A view: axial ``(rows, columns)``, coronal ``(slices, columns)``, sagittal
        ``(slices, rows)``, slice axes reversed (last slice in row 0).
    """
    index = int(np.clip(index, 0, array_kji.shape[plane.value] - 1))
    if plane is Plane.AXIAL:
        return array_kji[index]
    if plane is Plane.CORONAL:
        return array_kji[::-1, index, :]
    return array_kji[::-1, :, index]


def extract_plane(volume: Volume, plane: Plane, index: int) -> PlaneImage:
    """The values of one plane; slice axes shown with the last slice at the top."""
    column_mm, row_mm, slice_mm = volume.spacing_mm
    index = int(np.clip(index, 0, plane_count(volume, plane) - 1))
    pixel_mm = {Plane.AXIAL: (column_mm, row_mm), Plane.CORONAL: (column_mm, slice_mm),
                Plane.SAGITTAL: (row_mm, slice_mm)}[plane]
    return PlaneImage(plane, index, plane_slice(volume.voxels, plane, index), pixel_mm)


def display_to_ijk(volume: Volume, image: PlaneImage, x: int, y: int) -> tuple[int, int, int]:
    """Voxel (i, j, k) under displayed pixel (x, y) of ``image``."""
    last_k = volume.shape[0] - 1
    if image.plane is Plane.AXIAL:
        return x, y, image.index
    if image.plane is Plane.CORONAL:
        return x, image.index, last_k - y
    return image.index, x, last_k - y


def ijk_to_pixel(shape: tuple[int, int, int], plane: Plane,
                 ijk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Continuous voxel indices to display pixel coordinates of ``plane``.

    Parameters
    ----------
    shape : (slices, rows, columns)
        The grid's shape.
    plane : Plane
    ijk : (n, 3) array_like
        Continuous (i, j, k) voxel indices.

    Returns
    -------
    xy : (n, 2) float ndarray
        Pixel coordinates (pixel centres at integers).
    depth : (n,) float ndarray
        The continuous slice index along the plane's normal axis.
    """
    i, j, k = np.atleast_2d(np.asarray(ijk, dtype=float)).T
    flipped_k = (shape[0] - 1) - k
    if plane is Plane.AXIAL:
        return np.column_stack([i, j]), k
    if plane is Plane.CORONAL:
        return np.column_stack([i, flipped_k]), j
    return np.column_stack([j, flipped_k]), i


def pixel_to_ijk(shape: tuple[int, int, int], plane: Plane, index: float,
                 xy: np.ndarray) -> np.ndarray:
    """Display pixel coordinates ``(n, 2)`` on slice ``index`` to continuous (i, j, k) ``(n, 3)``.

    The inverse of :func:`ijk_to_pixel`; ``shape`` is (slices, rows, columns).
    """
    x, y = np.atleast_2d(np.asarray(xy, dtype=float)).T
    depth = np.full_like(x, float(index))
    k_from_y = (shape[0] - 1) - y
    if plane is Plane.AXIAL:
        return np.column_stack([x, y, depth])
    if plane is Plane.CORONAL:
        return np.column_stack([x, depth, k_from_y])
    return np.column_stack([depth, x, k_from_y])


def slice_through(volume: Volume, plane: Plane, point_lps_mm: np.ndarray) -> int:
    """Index of the slice of ``plane`` nearest to an LPS point (mm), clipped to the grid."""
    ijk = volume.lps_to_ijk(np.reshape(np.asarray(point_lps_mm, dtype=float), (1, 3)))[0]
    return int(np.clip(np.rint(ijk[2 - plane.value]), 0, plane_count(volume, plane) - 1))


def to_display(values: np.ndarray, window: WindowLevel) -> np.ndarray:
    """Map values through ``window`` to uint8 grey levels (same shape, C-contiguous)."""
    low = window.center - window.width / 2.0
    scaled = (np.asarray(values, dtype=np.float32) - low) * (255.0 / window.width)
    return np.ascontiguousarray(np.clip(scaled, 0, 255).astype(np.uint8))
