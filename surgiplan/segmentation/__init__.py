"""Segmentation: presets, seeded growing, morphology, imported label maps -> LabelMap.

Example
-------
>>> from surgiplan.segmentation import segment_preset, grow_region, import_label_map
>>> body = segment_preset(volume, "skin")                                   # doctest: +SKIP
>>> lungs = segment_preset(volume, "lung", body=body)                       # doctest: +SKIP
>>> liver = grow_region(volume, seed_lps_mm=(-60, -10, 30), tolerance_hu=60,
...                     max_volume_ml=3000)                                 # doctest: +SKIP
>>> labels = import_label_map("total.nii.gz", shape=volume.shape,
...                           affine_lps=volume.affine_lps)                 # doctest: +SKIP
"""

from surgiplan.segmentation.anatomy import match_anatomy, normalise_name, structure_info
from surgiplan.segmentation.growing import RegionLeakError, grow_region
from surgiplan.segmentation.label_import import import_label_map
from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from surgiplan.segmentation.morphology import (
    closing,
    difference,
    fill_holes,
    grow,
    intersection,
    keep_island,
    keep_largest,
    opening,
    shrink,
    union,
)
from surgiplan.segmentation.presets import Preset, body_outline, load_presets, segment_preset
from surgiplan.segmentation.region import Region
from surgiplan.segmentation.totalsegmentator import names_for

__all__ = [
    "LabelMap",
    "Preset",
    "Region",
    "RegionLeakError",
    "StructureInfo",
    "body_outline",
    "closing",
    "difference",
    "fill_holes",
    "grow",
    "grow_region",
    "import_label_map",
    "intersection",
    "keep_island",
    "keep_largest",
    "load_presets",
    "match_anatomy",
    "names_for",
    "normalise_name",
    "opening",
    "segment_preset",
    "shrink",
    "structure_info",
    "union",
]
