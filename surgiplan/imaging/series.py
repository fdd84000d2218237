"""Group image references into series candidates, the way a PACS viewer should.

Images are grouped by SeriesInstanceUID (or, when it is missing, by study, series number,
modality and frame of reference), then each group is split where one UID mixes things that
cannot share a volume: orientations, matrix sizes, pixel spacings, and several images at one
position (echoes, time points, acquisitions).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from surgiplan.imaging.decode import decoding_problem
from surgiplan.imaging.geometry import (
    POSITION_TOLERANCE_MM,
    SeriesWarning,
    StackAnalysis,
    analyse_stack,
    slice_axes,
)
from surgiplan.imaging.headers import ImageRef

ORIENTATION_TOLERANCE = 1e-3
# Attributes that tell apart images acquired at the same position, tried in this order.
SPLIT_KEYS = ("temporal_position", "echo_number", "acquisition_number", "trigger_time",
              "image_type", "series_description")


@dataclass(frozen=True)
class SeriesCandidate:
    """One loadable (or explicitly not loadable) series found by a scan.

    Attributes
    ----------
    index : int
        1-based position in the scan listing; stable for the same folder.
    uid : str or None
        SeriesInstanceUID, ``None`` when the files do not carry one.
    analysis : StackAnalysis
        Ordered images, warnings and the target grid.
    """

    index: int
    uid: str | None
    modality: str
    description: str
    series_number: int | None
    analysis: StackAnalysis

    @property
    def images(self) -> list[ImageRef]:
        return self.analysis.images

    @property
    def warnings(self) -> list[SeriesWarning]:
        return self.analysis.warnings

    @property
    def is_volume(self) -> bool:
        return self.analysis.is_volume

    @property
    def files(self) -> int:
        return len({im.path for im in self.images})

    @property
    def shape(self) -> tuple[int, int, int]:
        if self.analysis.geometry is not None:
            return self.analysis.geometry.shape
        first = self.images[0]
        return (len(self.images), first.rows, first.columns)

    @property
    def spacing_mm(self) -> tuple[float, float, float] | None:
        if self.analysis.geometry is not None:
            return self.analysis.geometry.spacing_mm
        spacing = self.images[0].pixel_spacing_mm
        if spacing is None:
            return None
        return (spacing[1], spacing[0], float(self.images[0].slice_thickness_mm or 0.0))


def _series_key(image: ImageRef) -> tuple:
    if image.series_uid:
        return ("uid", image.series_uid)
    return ("nouid", image.study_uid, image.series_number, image.modality,
            image.frame_of_reference_uid)


def _geometry_key(image: ImageRef) -> tuple:
    spacing = tuple(round(v, 3) for v in image.pixel_spacing_mm or ())
    return (image.sop_class_uid, image.rows, image.columns, spacing, image.orientation is None)


def _split_by_orientation(images: list[ImageRef]) -> list[list[ImageRef]]:
    clusters: list[tuple[np.ndarray, list[ImageRef]]] = []
    for image in images:
        if image.orientation is None:
            vector = np.zeros(6)
        else:
            vector = np.asarray(image.orientation, dtype=float)
        for reference, members in clusters:
            if np.abs(reference - vector).max() <= ORIENTATION_TOLERANCE:
                members.append(image)
                break
        else:
            clusters.append((vector, [image]))
    return [members for _, members in clusters]


def _position_keys(images: list[ImageRef]) -> np.ndarray:
    if any(im.position_lps_mm is None or im.orientation is None for im in images):
        return np.arange(len(images))
    _, _, normal = slice_axes(images[0].orientation)
    positions_lps_mm = np.array([im.position_lps_mm for im in images], dtype=float)
    return np.round(positions_lps_mm @ normal / POSITION_TOLERANCE_MM).astype(np.int64)


def _has_duplicates(images: list[ImageRef]) -> bool:
    keys = _position_keys(images)
    return len(np.unique(keys)) < len(keys)


def _split_by(images: list[ImageRef], key: str) -> list[list[ImageRef]]:
    parts: dict[object, list[ImageRef]] = defaultdict(list)
    for image in images:
        parts[getattr(image, key)].append(image)
    return [parts[k] for k in sorted(parts, key=_sortable)]


def _split_by_repeat(images: list[ImageRef]) -> list[list[ImageRef]]:
    """Nth image at every position (in instance/frame order) goes to the Nth part."""
    keys = _position_keys(images)
    order = sorted(range(len(images)),
                   key=lambda i: (images[i].instance_number or 0, images[i].frame or 0, i))
    rank: dict[int, int] = defaultdict(int)
    parts: dict[int, list[ImageRef]] = defaultdict(list)
    for i in order:
        parts[rank[int(keys[i])]].append(images[i])
        rank[int(keys[i])] += 1
    return [parts[r] for r in sorted(parts)]


def _acceptable(parts: list[list[ImageRef]]) -> bool:
    return len(parts) > 1 and all(len(p) > 1 for p in parts)


def _refine(parts: list[list[ImageRef]], splitter) -> tuple[list[list[ImageRef]], bool]:
    out, changed = [], False
    for part in parts:
        sub = splitter(part) if _has_duplicates(part) else [part]
        if _acceptable(sub):
            out.extend(sub)
            changed = True
        else:
            out.append(part)
    return out, changed


def _split_duplicates(images: list[ImageRef]) -> tuple[list[list[ImageRef]], SeriesWarning | None]:
    """Split images sharing positions by the attributes that tell them apart.

    Keys are tried in turn (time point, echo, acquisition...); what stays ambiguous is split by
    repeat order when every position holds the same number of images. Otherwise only the first
    image at each position is kept, or, when all lie at one position, the group stays whole
    (and is reported as not a volume).
    """
    if not _has_duplicates(images):
        return [images], None
    parts, used = [images], []
    for key in SPLIT_KEYS:
        parts, changed = _refine(parts, lambda p, key=key: _split_by(p, key))
        if changed:
            used.append(key.replace("_", " "))
    parts, changed = _refine(parts, _split_by_repeat)
    if changed:
        used.append("repeat order")
    if len(parts) > 1:
        return parts, SeriesWarning(
            "duplicate_positions",
            f"several images per position; split into {len(parts)} series by {', '.join(used)}",
        )
    keys = _position_keys(images)
    if len(np.unique(keys)) == 1:
        return [images], SeriesWarning(
            "duplicate_positions", f"all {len(images)} images lie at one position"
        )
    return [_first_per_position(images, keys)], SeriesWarning(
        "duplicate_positions",
        f"{len(keys) - len(np.unique(keys))} image(s) share a position with another and nothing "
        "tells them apart; only the first image at each position is used",
    )


def _first_per_position(images: list[ImageRef], keys: np.ndarray) -> list[ImageRef]:
    order = sorted(range(len(images)), key=lambda i: (images[i].instance_number or 0, i))
    seen: set[int] = set()
    kept = []
    for i in order:
        if keys[i] not in seen:
            seen.add(int(keys[i]))
            kept.append(images[i])
    return kept


def _sortable(value: object) -> tuple:
    return (value is None, str(type(value)), value if value is not None else 0)


def _parts_of(images: list[ImageRef]) -> list[tuple[list[ImageRef], list[SeriesWarning]]]:
    by_geometry: dict[tuple, list[ImageRef]] = defaultdict(list)
    for image in images:
        by_geometry[_geometry_key(image)].append(image)
    groups = [g for same in by_geometry.values() for g in _split_by_orientation(same)]
    mixed = []
    if len(groups) > 1:
        mixed.append(SeriesWarning(
            "mixed_geometry",
            f"one series UID holds {len(groups)} groups of images that differ in orientation, "
            "matrix size, pixel spacing or image class; each is listed apart",
        ))
    parts = []
    for group in groups:
        for part, dup in _split_or_single(group):
            parts.append((part, mixed + ([dup] if dup else [])))
    return parts


def _split_or_single(group: list[ImageRef]) -> list[tuple[list[ImageRef], SeriesWarning | None]]:
    split, warning = _split_duplicates(group)
    return [(part, warning) for part in split]


def _codec_warnings(images: list[ImageRef]) -> list[SeriesWarning]:
    problems = {}
    for image in images:
        problems.setdefault(image.transfer_syntax, decoding_problem(image))
    return [SeriesWarning("unsupported_transfer_syntax", p) for p in problems.values() if p]


def _unique_instances(images: list[ImageRef]) -> list[ImageRef]:
    """Sorted by path; copies of one SOP instance (the same file copied twice) kept once."""
    seen: set[tuple[str, int]] = set()
    out = []
    for image in sorted(images, key=lambda im: (im.path, im.frame or 0)):
        if image.sop_instance_uid:
            key = (image.sop_instance_uid, image.frame or 0)
            if key in seen:
                continue
            seen.add(key)
        out.append(image)
    return out


def group_series(images: list[ImageRef]) -> list[SeriesCandidate]:
    """Group and split image references into indexed series candidates.

    Parameters
    ----------
    images : list of ImageRef
        Every usable image found by a scan, in any order.

    Returns
    -------
    list of SeriesCandidate
        Ordered by series number, then UID and description; ``index`` starts at 1.
    """
    by_series: dict[tuple, list[ImageRef]] = defaultdict(list)
    for image in _unique_instances(images):
        by_series[_series_key(image)].append(image)
    drafts = []
    for members in by_series.values():
        for part, warnings in _parts_of(members):
            analysis = analyse_stack(part)
            analysis.warnings[:0] = warnings + _codec_warnings(part)
            drafts.append((part[0], analysis))
    drafts.sort(key=lambda d: (d[0].series_number is None, d[0].series_number or 0,
                               d[0].series_uid or "", d[0].series_description, d[0].path))
    return [
        SeriesCandidate(i, first.series_uid, first.modality, first.series_description,
                        first.series_number, analysis)
        for i, (first, analysis) in enumerate(drafts, start=1)
    ]
