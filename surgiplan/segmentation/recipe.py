"""A segmentation recipe: presets, seeds and imported label maps, run into one label map."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation.anatomy import structure_info
from surgiplan.segmentation.growing import grow_region
from surgiplan.segmentation.label_import import import_label_map
from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from surgiplan.segmentation.presets import load_presets, segment_preset
from surgiplan.segmentation.region import Region

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SEED = re.compile(
    rf"^(?P<name>[^:]+):(?P<x>{_NUMBER}),(?P<y>{_NUMBER}),(?P<z>{_NUMBER})"
    rf"(?::(?P<low>{_NUMBER}),(?P<high>{_NUMBER}))?$"
)


@dataclass(frozen=True)
class SeedRequest:
    """Grow structure ``name`` from ``point_lps_mm``, within ``window_hu`` when given."""

    name: str
    point_lps_mm: tuple[float, float, float]
    window_hu: tuple[float, float] | None = None

    @classmethod
    def parse(cls, text: str) -> SeedRequest:
        """Parse ``NAME:x,y,z[:low,high]`` (LPS mm, HU); :class:`InputError` when malformed."""
        match = _SEED.match(text.strip())
        if match is None:
            raise InputError(f"cannot read seed {text!r}: write NAME:x,y,z or NAME:x,y,z:low,high "
                             "(LPS millimetres, HU), e.g. liver:-80,-30,20:60,160")
        point = (float(match["x"]), float(match["y"]), float(match["z"]))
        window = None
        if match["low"] is not None:
            low, high = float(match["low"]), float(match["high"])
            if low >= high:
                raise InputError(f"seed {match['name']!r}: the window {low:g},{high:g} is empty "
                                 "(write the lower HU first)")
            window = (low, high)
        return cls(match["name"].strip(), point, window)


@dataclass(frozen=True)
class SegmentationRecipe:
    """What to segment: preset names, seeds, and an imported label map file.

    ``label_names`` names the label file's ids (else TotalSegmentator names are used);
    ``keep`` restricts the result to the listed structures (e.g. a few organs of a full map).
    """

    presets: tuple[str, ...] = ()
    seeds: tuple[SeedRequest, ...] = ()
    labels_path: Path | None = None
    label_names: dict[int, str] | None = None
    keep: tuple[str, ...] | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.presets or self.seeds or self.labels_path)


@dataclass
class Segmentation:
    """The result of a recipe.

    Attributes
    ----------
    labelmap : LabelMap
        Non-overlapping labels (containers such as the body outline painted first).
    regions : dict
        Each structure's own region; these may overlap (the skin contains the organs).
    notes : list of str
        What was skipped and why (a preset that found nothing...).
    """

    labelmap: LabelMap
    regions: dict[str, Region] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _preset_structures(volume: Volume, names: tuple[str, ...], progress, total: int
                       ) -> list[tuple[StructureInfo, Region]]:
    presets = load_presets()
    unknown = [n for n in names if n not in presets]
    if unknown:
        raise InputError(f"unknown preset {unknown[0]!r}: choose from {', '.join(presets)}")
    out, body = [], None
    ordered = sorted(names, key=lambda n: n != "skin")  # the body outline first: others reuse it
    for done, name in enumerate(ordered):
        report(progress, done, total, f"Segmenting {name}")
        preset = presets[name]
        region = segment_preset(volume, preset, body=body)
        if name == "skin":
            body = region
        info = StructureInfo(0, name, tuple(preset.colour), preset.tissue, preset.critical)
        out.append((info, region))
    return out


def _seed_structures(volume: Volume, seeds: tuple[SeedRequest, ...]
                     ) -> list[tuple[StructureInfo, Region]]:
    out = []
    for seed in seeds:
        region = grow_region(volume, seed_lps_mm=seed.point_lps_mm, window_hu=seed.window_hu)
        out.append((structure_info(seed.name), region))
    return out


def _imported(volume: Volume, path: Path, names: dict[int, str] | None
              ) -> list[tuple[StructureInfo, Region]]:
    scheme = None if names else "totalsegmentator"  # given names: other ids stay label_<id>
    imported = import_label_map(path, shape=volume.shape, affine_lps=volume.affine_lps,
                                names=names, scheme=scheme)
    return [(info, imported.region(info.name)) for info in imported.structures]


def run_recipe(volume: Volume, recipe: SegmentationRecipe, *,
               progress: ProgressCallback | None = None) -> Segmentation:
    """Segment ``volume`` as ``recipe`` says.

    Raises
    ------
    InputError
        On an unknown preset, a seed outside the scan or a leaking region, an unreadable label
        file, or two structures with one name.
    """
    total = len(recipe.presets) + 2
    found = _preset_structures(volume, recipe.presets, progress, total)
    report(progress, len(recipe.presets), total, "Importing labels")
    if recipe.labels_path is not None:
        found += _imported(volume, recipe.labels_path, recipe.label_names)
    report(progress, len(recipe.presets) + 1, total, "Growing seeds")
    found += _seed_structures(volume, recipe.seeds)
    segmentation = Segmentation(LabelMap.empty_like(volume.shape, volume.affine_lps))
    names = [info.name for info, _ in found]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InputError(f"two structures are named {duplicate!r}: give seeds distinct names")
    if recipe.keep is not None:
        found = [(info, region) for info, region in found if info.name in recipe.keep]
    for info, region in sorted(found, key=lambda item: -item[1].voxel_count):
        if region.is_empty:
            segmentation.notes.append(f"{info.name}: nothing found, left out")
            continue
        segmentation.labelmap.add(region, info)
        segmentation.regions[info.name] = region
    order = {name: n for n, name in enumerate(names)}
    segmentation.labelmap.structures.sort(key=lambda s: order[s.name])
    report(progress, total, total, "Segmentation done")
    return segmentation
