"""Per-frame geometry of enhanced multi-frame CT/MR files.

Enhanced objects carry position, orientation, spacing and rescale in functional groups: the
shared group applies to every frame, the per-frame group overrides it frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset


@dataclass(frozen=True)
class FrameGeometry:
    """Geometry and value transform of one frame; ``None`` where the file does not say."""

    position_lps_mm: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing_mm: tuple[float, float] | None
    slice_thickness_mm: float | None
    rescale_slope: float | None
    rescale_intercept: float | None
    temporal_position: int | None
    echo_number: int | None
    trigger_time: float | None
    stack_id: int | None


def _item(group: Dataset | None, keyword: str) -> Dataset | None:
    if group is None:
        return None
    seq = group.get(keyword)
    return seq[0] if seq else None


def _lookup(groups: list[Dataset | None], sequence: str, keyword: str):
    """First value of ``keyword`` inside ``sequence`` of the per-frame, then shared group."""
    for group in groups:
        item = _item(group, sequence)
        if item is not None and item.get(keyword) not in (None, ""):
            return item.get(keyword)
    return None


def _floats(value, count: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == count else None


def _number(value, kind: type):
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return None


def _geometry(groups: list[Dataset | None]) -> FrameGeometry:
    echo_time = _lookup(groups, "MREchoSequence", "EffectiveEchoTime")
    return FrameGeometry(
        position_lps_mm=_floats(
            _lookup(groups, "PlanePositionSequence", "ImagePositionPatient"), 3
        ),
        orientation=_floats(
            _lookup(groups, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        ),
        pixel_spacing_mm=_floats(_lookup(groups, "PixelMeasuresSequence", "PixelSpacing"), 2),
        slice_thickness_mm=_number(
            _lookup(groups, "PixelMeasuresSequence", "SliceThickness"), float
        ),
        rescale_slope=_number(
            _lookup(groups, "PixelValueTransformationSequence", "RescaleSlope"), float
        ),
        rescale_intercept=_number(
            _lookup(groups, "PixelValueTransformationSequence", "RescaleIntercept"), float
        ),
        temporal_position=_number(
            _lookup(groups, "FrameContentSequence", "TemporalPositionIndex"), int
        ),
        echo_number=None if echo_time is None else int(round(float(echo_time) * 1000)),
        trigger_time=_number(
            _lookup(groups, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"),
            float,
        ),
        stack_id=_number(_lookup(groups, "FrameContentSequence", "StackID"), int),
    )


def frame_geometries(ds: Dataset, number_of_frames: int) -> list[FrameGeometry]:
    """Geometry of every frame of a (possibly enhanced) multi-frame dataset.

    Parameters
    ----------
    ds : pydicom.Dataset
        Header of the file (pixel data not needed).
    number_of_frames : int
        Frames in the file.

    Returns
    -------
    list of FrameGeometry
        One entry per frame, in frame order; empty fields where the file gives nothing, in which
        case the caller falls back to the top-level attributes.
    """
    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    out = []
    for index in range(number_of_frames):
        frame_item = per_frame[index] if index < len(per_frame) else None
        out.append(_geometry([frame_item, shared_item]))
    return out
