"""Small windowed pictures of a series' middle slice for the series browser, Qt-free.

Example
-------
>>> import numpy as np
>>> from surgiplan.render.thumbnails import thumbnail_image
>>> values = np.linspace(-1000.0, 1000.0, 512 * 512, dtype=np.float32).reshape(512, 512)
>>> thumbnail_image(values, (0.7, 0.7), modality="CT", size=64).shape
(64, 64)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.errors import SurgiPlanError
from surgiplan.imaging.decode import decoding_problem, modality_image
from surgiplan.imaging.series import SeriesCandidate
from surgiplan.render.slices import WindowLevel, to_display

THUMBNAIL_SIZE = 64
CT_THUMBNAIL_WINDOW = WindowLevel("Soft tissue", 40.0, 400.0)


def thumbnail_window(values: np.ndarray, modality: str) -> WindowLevel:
    """The soft-tissue window for CT; the 1st to 99th percentile of ``values`` otherwise."""
    if modality == "CT":
        return CT_THUMBNAIL_WINDOW
    low, high = np.percentile(np.asarray(values, dtype=np.float32), [1.0, 99.0])
    width = max(float(high - low), 1.0)
    return WindowLevel("Automatic", float(low) + width / 2.0, width)


def _fitted_shape(shape: tuple[int, int], pixel_mm: tuple[float, float],
                  size: int) -> tuple[int, int]:
    """(height, width) fitting ``size`` x ``size`` with the slice's physical aspect ratio."""
    height_mm, width_mm = shape[0] * pixel_mm[0], shape[1] * pixel_mm[1]
    scale = size / max(height_mm, width_mm)
    return max(1, round(height_mm * scale)), max(1, round(width_mm * scale))


def thumbnail_image(values: np.ndarray, pixel_mm: tuple[float, float], *, modality: str = "CT",
                    size: int = THUMBNAIL_SIZE, window: WindowLevel | None = None) -> np.ndarray:
    """A slice shrunk to fit ``size`` pixels, windowed to grey levels.

    Parameters
    ----------
    values : (rows, columns) ndarray
        Modality values (HU for CT), first row at the top.
    pixel_mm : (row spacing, column spacing)
        Pixel size in mm, so that the picture keeps the physical aspect ratio.
    modality : str
        Chooses the default window (:func:`thumbnail_window`).
    size : int
        Longest side of the result in pixels.
    window : WindowLevel, optional
        Overrides the default window.

    Returns
    -------
    (height, width) uint8 ndarray
        C-contiguous grey levels, ``max(height, width) == size``.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a thumbnail needs a 2D image, got shape {values.shape}")
    height, width = _fitted_shape(values.shape, pixel_mm, size)
    # average down first (no aliasing of fine structure), then interpolate to the exact size
    factor = (max(1, values.shape[0] // height), max(1, values.shape[1] // width))
    if factor != (1, 1):
        values = ndimage.uniform_filter(values, size=factor)[::factor[0], ::factor[1]]
    zoom = (height / values.shape[0], width / values.shape[1])
    small = ndimage.zoom(values, zoom, order=1, grid_mode=True, mode="nearest")
    return to_display(small[:height, :width], window or thumbnail_window(values, modality))


def series_thumbnail(series: SeriesCandidate, size: int = THUMBNAIL_SIZE) -> np.ndarray | None:
    """The thumbnail of the middle image of ``series``, or ``None`` when it cannot be decoded.

    Reads one image from disk. Colour images, syntaxes no installed decoder handles and
    unreadable pixel data give ``None`` (the import reports the reason; the browser then shows
    no picture).
    """
    if not series.images:
        return None
    image = series.images[len(series.images) // 2]
    if image.samples_per_pixel != 1 or decoding_problem(image) is not None:
        return None
    try:
        values = modality_image(image)
    except (SurgiPlanError, OSError, ValueError):
        return None
    pixel_mm = image.pixel_spacing_mm or (1.0, 1.0)
    return thumbnail_image(values, pixel_mm, modality=series.modality, size=size)
