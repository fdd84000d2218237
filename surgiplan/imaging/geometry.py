"""Slice-stack geometry: ordering, spacing checks, tilt detection and the target grid.

Slices are ordered by the projection of their position on the slice normal (never by instance
number or file name). A stack whose slices are not evenly spaced along the normal, or whose
origins drift sideways (gantry tilt), is described by a :class:`ResamplePlan` that maps every
slice of a regular grid in patient space to the source slices around it.

Index conventions: a volume array is indexed ``[k, j, i]`` (slice, row, column); the affine maps
``(i, j, k, 1)`` to patient LPS millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from surgiplan.imaging.headers import ImageRef

MIN_SLICES = 3
POSITION_TOLERANCE_MM = 0.01
SPACING_RELATIVE_TOLERANCE = 0.05


@dataclass(frozen=True)
class SeriesWarning:
    """A problem found in a series: a stable ``code`` for tools and a sentence for people."""

    code: str
    message: str


@dataclass(frozen=True)
class ResamplePlan:
    """How to build each target slice from two source slices.

    Attributes
    ----------
    lower, upper : (K,) int ndarray
        Source slice indices bracketing each target slice along the normal.
    weight_upper : (K,) float ndarray
        Linear weight of ``upper`` (``1 - weight_upper`` for ``lower``).
    source_offset_ij : (n, 2) float ndarray
        For each source slice, (column, row) offset in pixels of the target grid origin from
        the source slice origin, in the source slice's in-plane axes.
    """

    lower: np.ndarray
    upper: np.ndarray
    weight_upper: np.ndarray
    source_offset_ij: np.ndarray


@dataclass(frozen=True)
class StackGeometry:
    """The regular grid a series is loaded onto.

    Attributes
    ----------
    shape : tuple of int
        (slices, rows, columns) of the output volume.
    spacing_mm : tuple of float
        (column spacing, row spacing, slice spacing) in millimetres.
    affine_lps : (4, 4) float ndarray
        Maps voxel (i, j, k, 1) to patient LPS millimetres.
    resample : ResamplePlan or None
        ``None`` when the sorted source slices are the grid as they are.
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    affine_lps: np.ndarray
    resample: ResamplePlan | None = None


@dataclass(frozen=True)
class StackAnalysis:
    """Ordered slices of one candidate, its warnings, and its grid when it is a volume."""

    images: list[ImageRef]
    distances_mm: np.ndarray
    warnings: list[SeriesWarning] = field(default_factory=list)
    geometry: StackGeometry | None = None

    @property
    def is_volume(self) -> bool:
        return self.geometry is not None


def slice_axes(orientation: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and unit normal (each (3,), LPS) from an orientation."""
    values = np.asarray(orientation, dtype=float)
    row_dir = values[:3] / np.linalg.norm(values[:3])
    col_dir = values[3:] / np.linalg.norm(values[3:])
    normal = np.cross(row_dir, col_dir)
    return row_dir, col_dir, normal / np.linalg.norm(normal)


def sort_along_normal(images: list[ImageRef]) -> tuple[list[ImageRef], np.ndarray]:
    """Order images by position along the slice normal; return them and their distances (mm)."""
    _, _, normal = slice_axes(images[0].orientation)
    positions_lps_mm = np.array([im.position_lps_mm for im in images], dtype=float)
    distances_mm = positions_lps_mm @ normal
    order = np.argsort(distances_mm, kind="stable")
    return [images[i] for i in order], distances_mm[order]


def analyse_stack(images: list[ImageRef]) -> StackAnalysis:
    """Order a single-geometry group of images and decide the grid it loads onto.

    Parameters
    ----------
    images : list of ImageRef
        Images sharing orientation, matrix size and pixel spacing, with unique positions.

    Returns
    -------
    StackAnalysis
        Sorted images, their distances along the normal (mm), warnings, and the grid
        (``geometry is None`` when the group is not a volume).
    """
    if any(im.position_lps_mm is None or im.orientation is None for im in images):
        warning = SeriesWarning("not_a_volume", "images carry no patient position/orientation")
        return StackAnalysis(images, np.zeros(len(images)), [warning])
    ordered, distances_mm = sort_along_normal(images)
    warnings = _localizer_warnings(ordered)
    positions = len(np.unique(np.round(distances_mm / POSITION_TOLERANCE_MM)))
    if positions < MIN_SLICES:
        warnings.append(SeriesWarning(
            "too_few_slices",
            f"only {positions} slice position(s): at least {MIN_SLICES} are needed for a volume",
        ))
    if warnings:
        warnings.append(SeriesWarning("not_a_volume", _not_volume_reason(ordered, warnings)))
        return StackAnalysis(ordered, distances_mm, warnings)
    gaps_mm = np.diff(distances_mm)
    step_mm = regular_step_mm(gaps_mm)
    warnings += _spacing_warnings(gaps_mm, step_mm)
    shear_mm = _in_plane_drift_mm(ordered, distances_mm)
    tilt_warning = _tilt_warning(ordered, distances_mm, shear_mm)
    if tilt_warning:
        warnings.append(tilt_warning)
    else:
        shear_mm = np.zeros_like(shear_mm)
    geometry = _grid(ordered, distances_mm, shear_mm, step_mm, resample=bool(warnings))
    return StackAnalysis(ordered, distances_mm, warnings, geometry)


def regular_step_mm(gaps_mm: np.ndarray) -> float:
    """The finest spacing that recurs in a stack (mm): the grid step that loses no detail.

    A gap seen only once (an overlap where two stacks meet, a missing slice) does not set the
    step; when no gap recurs the median is used.
    """
    tolerance_mm = np.maximum(POSITION_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * gaps_mm)
    close = np.abs(gaps_mm[:, None] - gaps_mm[None, :]) <= tolerance_mm[:, None]
    recurring = gaps_mm[close.sum(axis=1) >= 2]
    if recurring.size == 0:
        return float(np.median(gaps_mm))
    finest = recurring.min()
    return float(np.median(recurring[np.abs(recurring - finest) <= tolerance_mm.min() + 1e-9]))


def _localizer_warnings(images: list[ImageRef]) -> list[SeriesWarning]:
    if any("LOCALIZER" in im.image_type for im in images):
        return [SeriesWarning("localizer", "localizer (scout) images")]
    return []


def _not_volume_reason(images: list[ImageRef], warnings: list[SeriesWarning]) -> str:
    reasons = "; ".join(w.message for w in warnings)
    return f"not a 3D volume: {reasons}"


def _spacing_warnings(gaps_mm: np.ndarray, step_mm: float) -> list[SeriesWarning]:
    tolerance_mm = max(POSITION_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * step_mm)
    irregular = np.abs(gaps_mm - step_mm) > tolerance_mm
    if not irregular.any():
        return []
    ratios = gaps_mm[irregular] / step_mm
    multiples = np.abs(ratios - np.round(ratios)) * step_mm <= tolerance_mm
    out = []
    if (multiples & (np.round(ratios) >= 2)).any():
        missing = int(np.sum(np.round(ratios[multiples]) - 1))
        out.append(SeriesWarning(
            "missing_slices",
            f"{missing} slice(s) missing: gaps of up to {gaps_mm.max():.2f} mm in a "
            f"{step_mm:.2f} mm stack; resampled to a regular grid, gap content is interpolated",
        ))
    if not (multiples & (np.round(ratios) >= 2)).all():
        out.append(SeriesWarning(
            "nonuniform_spacing",
            f"slice spacing varies from {gaps_mm.min():.2f} to {gaps_mm.max():.2f} mm; "
            f"resampled to a regular {step_mm:.2f} mm grid",
        ))
    return out


def _in_plane_drift_mm(images: list[ImageRef], distances_mm: np.ndarray) -> np.ndarray:
    """Sideways offset (n, 2) of each slice origin along (row dir, column dir), in mm."""
    row_dir, col_dir, _ = slice_axes(images[0].orientation)
    positions_lps_mm = np.array([im.position_lps_mm for im in images], dtype=float)
    offsets_lps_mm = positions_lps_mm - positions_lps_mm[0]
    return np.stack([offsets_lps_mm @ row_dir, offsets_lps_mm @ col_dir], axis=1)


def _tilt_warning(
    images: list[ImageRef], distances_mm: np.ndarray, shear_mm: np.ndarray
) -> SeriesWarning | None:
    pixel_mm = min(images[0].pixel_spacing_mm or (1.0, 1.0))
    drift_mm = float(np.linalg.norm(shear_mm, axis=1).max())
    if drift_mm <= 0.1 * pixel_mm:
        return None
    span_mm = float(distances_mm[-1] - distances_mm[0])
    angle_deg = float(np.degrees(np.arctan2(drift_mm, span_mm)))
    header = images[0].gantry_tilt_deg
    stated = f" (header says {header:g} degrees)" if header else ""
    return SeriesWarning(
        "gantry_tilt",
        f"stack is tilted {angle_deg:.1f} degrees from the slice normal{stated}; "
        "resampled onto a regular grid in patient space",
    )


def _grid(
    images: list[ImageRef],
    distances_mm: np.ndarray,
    shear_mm: np.ndarray,
    step_mm: float,
    *,
    resample: bool,
) -> StackGeometry:
    first = images[0]
    row_dir, col_dir, normal = slice_axes(first.orientation)
    row_spacing_mm, col_spacing_mm = first.pixel_spacing_mm or (1.0, 1.0)
    origin_lps_mm = np.asarray(first.position_lps_mm, dtype=float)
    span_mm = float(distances_mm[-1] - distances_mm[0])
    if not resample:
        n_slices = len(images)
        slice_mm = span_mm / (n_slices - 1)
        return StackGeometry(
            (n_slices, first.rows, first.columns),
            (col_spacing_mm, row_spacing_mm, slice_mm),
            _affine(origin_lps_mm, row_dir * col_spacing_mm, col_dir * row_spacing_mm,
                    normal * slice_mm),
        )
    n_slices = int(round(span_mm / step_mm)) + 1
    slice_mm = span_mm / (n_slices - 1)
    low_mm, high_mm = shear_mm.min(axis=0), shear_mm.max(axis=0)
    pixel_mm = np.array([col_spacing_mm, row_spacing_mm])
    extra = np.ceil((high_mm - low_mm) / pixel_mm - 1e-6).astype(int)
    origin_lps_mm = origin_lps_mm + low_mm[0] * row_dir + low_mm[1] * col_dir
    plan = _resample_plan(distances_mm - distances_mm[0], shear_mm, low_mm, pixel_mm, n_slices,
                          slice_mm)
    return StackGeometry(
        (n_slices, first.rows + int(extra[1]), first.columns + int(extra[0])),
        (col_spacing_mm, row_spacing_mm, slice_mm),
        _affine(origin_lps_mm, row_dir * col_spacing_mm, col_dir * row_spacing_mm,
                normal * slice_mm),
        plan,
    )


def _resample_plan(
    depth_mm: np.ndarray,
    shear_mm: np.ndarray,
    low_mm: np.ndarray,
    pixel_mm: np.ndarray,
    n_slices: int,
    slice_mm: float,
) -> ResamplePlan:
    target_mm = np.arange(n_slices) * slice_mm
    upper = np.clip(np.searchsorted(depth_mm, target_mm, side="right"), 1, len(depth_mm) - 1)
    lower = upper - 1
    width = depth_mm[upper] - depth_mm[lower]
    weight = np.clip((target_mm - depth_mm[lower]) / width, 0.0, 1.0)
    # Target voxel (i, j) lies at low + (i, j) * pixel from the first origin; a source slice's
    # origin lies at shear, so in source pixels it is (i, j) + (low - shear) / pixel.
    offsets = (low_mm[None, :] - shear_mm) / pixel_mm[None, :]
    return ResamplePlan(lower, upper, weight, offsets)


def _affine(origin: np.ndarray, axis_i: np.ndarray, axis_j: np.ndarray,
            axis_k: np.ndarray) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2], affine[:3, 3] = axis_i, axis_j, axis_k, origin
    return affine
