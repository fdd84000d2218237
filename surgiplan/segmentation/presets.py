"""Threshold presets (skin, lung, airway, fat, soft tissue, vessels, bone) as data.

The table lives in ``data/segmentation_presets.json``: HU window, colour, tissue, critical flag
and declarative clean-up fields. :func:`segment_preset` runs those steps in a fixed order:

threshold -> inside the body -> minus excluded presets -> keep components (touching the top of
the scan, at least ``min_component_ml``, the largest N) -> leak guard -> fill holes.

Presets marked ``inside_body`` work only inside the body outline's bounding box; compute the
outline once (the preset marked ``body_outline``, ``skin``) and pass it as ``body``.

Example
-------
>>> presets = load_presets()
>>> body = segment_preset(volume, "skin")                         # doctest: +SKIP
>>> lungs = segment_preset(volume, presets["lung"], body=body)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.io.json_data import read_json
from surgiplan.paths import data_file
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation.body import coarse_body_outline
from surgiplan.segmentation.components import select_components
from surgiplan.segmentation.growing import RegionLeakError
from surgiplan.segmentation.labelmap import StructureInfo
from surgiplan.segmentation.morphology import (
    fill_holes,
    grow,
    paste,
    region_from_box,
)
from surgiplan.segmentation.region import Region

PRESET_TABLE = "segmentation_presets.json"
KEEP_COUNTS = {"all": None, "largest": 1, "largest_2": 2}
BODY_DETAILS = ("full", "coarse")
LOWEST_CT_HU = -1024.0


@dataclass(frozen=True)
class Preset:
    """One row of the preset table (see ``fields`` in ``data/segmentation_presets.json``).

    Attributes
    ----------
    name, description : str
    hu_min, hu_max : float or None
        Inclusive HU window; ``None`` leaves that side open.
    colour : (3,) float tuple
        Display RGB in 0..1.
    tissue : str
    critical : bool
    body_outline, inside_body : bool
        This preset is the body outline / restrict to the filled body outline.
    exclude : tuple of str
        Presets removed first, grown by ``exclude_margin_mm``.
    touches_superior : bool
        Keep only components reaching the superior face of the scan.
    min_component_ml : float
    keep : {"all", "largest", "largest_2"}
    max_volume_ml : float or None
        Leak guard on the kept region.
    leak_step_hu : float
        On a leak, lower ``hu_max`` by this much and retry; 0 raises the leak.
    fill_holes, fill_holes_axial : bool
        Fill 3-D cavities / holes within each axial slice.
    body_detail : {"full", "coarse"}
        Body outline computed when none is given: full resolution, or the conservative 2x
        grid outline of :mod:`surgiplan.segmentation.body` (presets deep inside the body).
    """

    name: str
    hu_min: float | None
    hu_max: float | None
    colour: tuple[float, float, float]
    tissue: str
    critical: bool
    description: str = ""
    body_outline: bool = False
    inside_body: bool = False
    exclude: tuple[str, ...] = ()
    exclude_margin_mm: float = 0.0
    touches_superior: bool = False
    min_component_ml: float = 0.0
    keep: str = "all"
    max_volume_ml: float | None = None
    leak_step_hu: float = 0.0
    fill_holes: bool = False
    fill_holes_axial: bool = False
    body_detail: str = "full"

    def structure_info(self, label: int = 0) -> StructureInfo:
        """The label map entry of a structure made by this preset."""
        return StructureInfo(label, self.name, self.colour, self.tissue, self.critical)


def _preset_from_row(row: dict, source: Path) -> Preset:
    known = {f.name for f in fields(Preset)}
    unknown = sorted(set(row) - known)
    name = row.get("name", "?")
    if unknown:
        raise InputError(f"preset {name!r} in {source.name} has unknown field(s) {unknown}: "
                         f"use {sorted(known)}")
    values = dict(row)
    values["colour"] = tuple(float(c) for c in row.get("colour", (0.8, 0.8, 0.8)))
    values["exclude"] = tuple(row.get("exclude", ()))
    try:
        preset = Preset(**values)
    except TypeError as exc:
        raise InputError(f"preset {name!r} in {source.name} is incomplete: {exc}") from exc
    if preset.keep not in KEEP_COUNTS:
        raise InputError(f"preset {name!r}: keep must be one of {sorted(KEEP_COUNTS)}, "
                         f"got {preset.keep!r}")
    if preset.body_detail not in BODY_DETAILS:
        raise InputError(f"preset {name!r}: body_detail must be 'full' or 'coarse', got "
                         f"{preset.body_detail!r}")
    return preset


def load_presets(path: Path | None = None) -> dict[str, Preset]:
    """Every preset of the table at ``path`` (default: the shipped table), by name."""
    source = Path(path) if path is not None else data_file(PRESET_TABLE)
    document = read_json(source, "preset table")
    if not isinstance(document, dict) or not isinstance(document.get("presets"), list):
        raise InputError(f"preset table {source}: expected an object with a 'presets' list "
                         f"(restore data/{PRESET_TABLE} or point to a valid table)")
    rows = document["presets"]
    presets = {}
    for row in rows:
        preset = _preset_from_row(row, source)
        presets[preset.name] = preset
    return presets


def _resolve(preset: Preset | str) -> Preset:
    if isinstance(preset, Preset):
        return preset
    presets = load_presets()
    if preset not in presets:
        raise InputError(f"unknown preset {preset!r}: choose one of {', '.join(presets)}")
    return presets[preset]


def superior_axis(affine_lps: np.ndarray) -> tuple[int, int]:
    """(array axis in [k, j, i], -1 or 0): the axis nearest head-foot and its superior end.

    The second value is the index (last or first) of the slab nearest the head.
    """
    column = int(np.argmax(np.abs(np.asarray(affine_lps)[2, :3])))
    end = -1 if affine_lps[2, column] > 0 else 0
    return 2 - column, end


def body_outline(volume: Volume, *, progress: ProgressCallback | None = None,
                 detail: str = "full") -> Region:
    """The region of the table's ``body_outline`` preset (the filled body).

    ``detail="coarse"``: its threshold, largest components and hole filling on a 2x grid,
    conservative for the body's interior air (:func:`.body.coarse_body_outline`).
    """
    outline = [p for p in load_presets().values() if p.body_outline]
    if not outline:
        raise InputError(f"no preset in data/{PRESET_TABLE} is marked body_outline: mark the "
                         "body outline preset so 'inside_body' presets can use it")
    preset = outline[0]
    if detail != "coarse":
        return segment_preset(volume, preset, progress=progress)
    axis = superior_axis(volume.affine_lps)[0] if preset.fill_holes_axial else None
    return coarse_body_outline(volume, preset.hu_min, preset.hu_max,
                               keep=KEEP_COUNTS[preset.keep], slice_axis=axis,
                               volumetric=preset.fill_holes)


def _work_box(volume: Volume, preset: Preset, body: Region | None,
              progress: ProgressCallback | None) -> tuple[np.ndarray | None, Region | None]:
    """(body mask in the box or None, body region or None) for ``preset``."""
    if not preset.inside_body or preset.body_outline:
        return None, None
    if body is None:
        body = body_outline(volume, progress=progress, detail=preset.body_detail)
    if tuple(body.grid_shape) != volume.shape:
        raise InputError(f"the body outline was made on a {body.grid_shape} grid, the volume is "
                         f"{volume.shape}: segment the body of this volume")
    return body.mask, body


def _threshold(voxels: np.ndarray, hu_min: float | None, hu_max: float | None) -> np.ndarray:
    if hu_min is None and hu_max is None:
        return np.ones(voxels.shape, dtype=bool)
    if hu_max is None:
        return voxels >= hu_min
    mask = voxels <= hu_max
    if hu_min is not None:
        mask &= voxels >= hu_min
    return mask


def _kept_components(mask: np.ndarray, preset: Preset, voxel_ml: float,
                     superior_face: tuple[slice, ...] | None) -> np.ndarray:
    """The preset's ``touches_superior``, ``min_component_ml`` and ``keep`` on a box mask."""
    return select_components(mask, KEEP_COUNTS[preset.keep], voxel_ml,
                             min_component_ml=preset.min_component_ml,
                             touches_superior=preset.touches_superior,
                             superior_face=superior_face)


def _excluded(volume: Volume, preset: Preset, body: Region | None, box_offset: Sequence[int],
              box_shape: tuple[int, ...], depth: int) -> np.ndarray:
    """Union of the excluded presets' regions (grown by the margin) inside the box."""
    out = None
    for name in preset.exclude:
        if name == preset.name or depth > 4:
            raise InputError(f"preset {preset.name!r} excludes itself (directly or in a cycle): "
                             "fix 'exclude' in the preset table")
        other = _segment(volume, _resolve(name), body, None, depth + 1)
        if preset.exclude_margin_mm > 0:
            other = grow(other, preset.exclude_margin_mm, volume.spacing_mm)
        part = paste(np.broadcast_to(False, box_shape), box_offset, other)  # shape only
        out = part if out is None else np.logical_or(out, part, out=out)
    return out if out is not None else np.zeros(box_shape, dtype=bool)


def _candidate(volume: Volume, preset: Preset, box: tuple[slice, ...], body_mask, hu_max,
               excluded: np.ndarray | None) -> np.ndarray:
    mask = _threshold(volume.voxels[box], preset.hu_min, hu_max)
    if body_mask is not None:
        mask &= body_mask
    if excluded is not None:
        np.greater(mask, excluded, out=mask)  # mask and not excluded, without a temporary
    return mask


def _superior_face(volume: Volume, box: tuple[slice, ...]) -> tuple[slice, ...] | None:
    """The box's slab on the scan's superior face, or None when the box does not reach it."""
    axis, end = superior_axis(volume.affine_lps)
    edge = volume.shape[axis] - 1 if end == -1 else 0
    span = box[axis]
    if not span.start <= edge < span.stop:
        return None
    face = list(slice(None) for _ in range(3))
    face[axis] = slice(edge - span.start, edge - span.start + 1)
    return tuple(face)


def _segment(volume: Volume, preset: Preset, body: Region | None,
             progress: ProgressCallback | None, depth: int = 0) -> Region:
    body_mask, body = _work_box(volume, preset, body, progress)
    box = body.slices if body is not None else tuple(slice(0, n) for n in volume.shape)
    offset = [s.start for s in box]
    if body is not None and body.is_empty:
        return region_from_box(np.zeros((0, 0, 0), dtype=bool), (0, 0, 0), volume.shape)
    report(progress, 1, 4, f"{preset.name}: threshold")
    excluded = None
    if preset.exclude:
        shape = tuple(s.stop - s.start for s in box)
        excluded = _excluded(volume, preset, body, offset, shape, depth)
    voxel_ml = abs(float(np.linalg.det(volume.affine_lps[:3, :3]))) / 1000.0
    face = _superior_face(volume, box)
    hu_max = preset.hu_max
    while True:
        mask = _candidate(volume, preset, box, body_mask, hu_max, excluded)
        report(progress, 2, 4, f"{preset.name}: components")
        mask = _kept_components(mask, preset, voxel_ml, face)
        volume_ml = np.count_nonzero(mask) * voxel_ml
        if preset.max_volume_ml is None or volume_ml <= preset.max_volume_ml:
            break
        hu_max = _lowered(preset, hu_max, volume_ml)
    region = region_from_box(mask, offset, volume.shape)
    del mask
    report(progress, 3, 4, f"{preset.name}: filling holes")
    if preset.fill_holes or preset.fill_holes_axial:
        axis = superior_axis(volume.affine_lps)[0] if preset.fill_holes_axial else None
        region = fill_holes(region, slice_axis=axis, volumetric=preset.fill_holes)
    report(progress, 4, 4, f"{preset.name}: done")
    return region


def _lowered(preset: Preset, hu_max: float | None, volume_ml: float) -> float:
    """The next, lower ``hu_max`` after a leak; :class:`RegionLeakError` when none is left."""
    floor = preset.hu_min if preset.hu_min is not None else LOWEST_CT_HU
    step = preset.leak_step_hu
    if step <= 0 or hu_max is None or hu_max - step <= floor:
        raise RegionLeakError(volume_ml, preset.max_volume_ml, f"{preset.name} preset region")
    return hu_max - step


def segment_preset(volume: Volume, preset: Preset | str, *, body: Region | None = None,
                   progress: ProgressCallback | None = None) -> Region:
    """The region a preset finds in ``volume``.

    Parameters
    ----------
    volume : Volume
        CT volume in HU.
    preset : Preset or str
        A preset, or the name of one in the shipped table.
    body : Region, optional
        The body outline of this volume (from the ``body_outline`` preset), reused by
        ``inside_body`` presets; computed when needed and not given.
    progress : callable, optional
        ``(done, total, label)`` callback.

    Returns
    -------
    Region
        On the volume's grid, in its tightest box (empty when nothing matches).

    Raises
    ------
    InputError
        Unknown preset name, or a body outline from another grid.
    RegionLeakError
        The region exceeds the preset's ``max_volume_ml`` and no lower threshold is left.
    """
    return _segment(volume, _resolve(preset), body, progress)
