"""Segmentation: presets, seeded growing, morphology, imported label maps -> LabelMap."""

from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from surgiplan.segmentation.region import Region

__all__ = ["LabelMap", "Region", "StructureInfo"]
