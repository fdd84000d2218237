"""Orthogonal slice planes of a volume and their display mapping (window/level), Qt-free."""

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


CT_PRESETS = (
    WindowLevel("Soft tissue", 40.0, 400.0),
    WindowLevel("Lung", -600.0, 1500.0),
    WindowLevel("Bone", 400.0, 1800.0),
    WindowLevel("Brain", 40.0, 80.0),
    WindowLevel("Liver", 60.0, 160.0),
)


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


def extract_plane(volume: Volume, plane: Plane, index: int) -> PlaneImage:
    """The values of one plane; slice axes shown with the last slice at the top."""
    column_mm, row_mm, slice_mm = volume.spacing_mm
    index = int(np.clip(index, 0, plane_count(volume, plane) - 1))
    if plane is Plane.AXIAL:
        return PlaneImage(plane, index, volume.voxels[index], (column_mm, row_mm))
    if plane is Plane.CORONAL:
        return PlaneImage(plane, index, volume.voxels[::-1, index, :], (column_mm, slice_mm))
    return PlaneImage(plane, index, volume.voxels[::-1, :, index], (row_mm, slice_mm))


def display_to_ijk(volume: Volume, image: PlaneImage, x: int, y: int) -> tuple[int, int, int]:
    """Voxel (i, j, k) under displayed pixel (x, y) of ``image``."""
    last_k = volume.shape[0] - 1
    if image.plane is Plane.AXIAL:
        return x, y, image.index
    if image.plane is Plane.CORONAL:
        return x, image.index, last_k - y
    return image.index, x, last_k - y


def to_display(values: np.ndarray, window: WindowLevel) -> np.ndarray:
    """Map values through ``window`` to uint8 grey levels (same shape, C-contiguous)."""
    low = window.center - window.width / 2.0
    scaled = (np.asarray(values, dtype=np.float32) - low) * (255.0 / window.width)
    return np.ascontiguousarray(np.clip(scaled, 0, 255).astype(np.uint8))
