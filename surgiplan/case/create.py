"""Create a case: import a scan, segment it, build its twin, record provenance."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from surgiplan.case.model import Case, Provenance
from surgiplan.imaging.volume import Volume
from surgiplan.plan.model import Plan
from surgiplan.progress import ProgressCallback
from surgiplan.segmentation.recipe import SegmentationRecipe, run_recipe
from surgiplan.twin.builder import TwinOptions, build_twin


def content_sha256(voxels: np.ndarray) -> str:
    """SHA-256 of the voxel values (C order), identifying the scan content without identity."""
    digest = hashlib.sha256()
    digest.update(str(voxels.dtype).encode())
    digest.update(str(voxels.shape).encode())
    digest.update(np.ascontiguousarray(voxels).data)
    return digest.hexdigest()


def source_description(volume: Volume, source: str) -> dict:
    """Non-identifying description of where the volume came from."""
    meta = volume.metadata
    return {
        "source": Path(source).name,
        "series_uid": meta.get("series_uid") or None,
        "study_uid": meta.get("study_uid") or None,
        "frame_of_reference_uid": meta.get("frame_of_reference_uid") or None,
        "modality": volume.modality,
        "series_description": meta.get("series_description", ""),
        "source_images": meta.get("source_images"),
        "shape": list(volume.shape),
        "spacing_mm": [round(v, 6) for v in volume.spacing_mm],
        "content_sha256": content_sha256(volume.voxels),
        "import_warnings": [w.code for w in volume.warnings],
    }


def _recipe_parameters(recipe: SegmentationRecipe) -> dict:
    return {
        "presets": list(recipe.presets),
        "seeds": [{"name": s.name, "point_lps_mm": list(s.point_lps_mm),
                   "window_hu": None if s.window_hu is None else list(s.window_hu)}
                  for s in recipe.seeds],
        "labels": None if recipe.labels_path is None else Path(recipe.labels_path).name,
    }


def create_case(volume: Volume, recipe: SegmentationRecipe, *, source: str,
                options: TwinOptions | None = None,
                progress: ProgressCallback | None = None) -> Case:
    """Segment ``volume`` with ``recipe``, build its twin and start an empty plan.

    Returns
    -------
    Case
        With provenance: the source description and the import, segmentation and twin steps
        with their parameters.
    """
    options = options or TwinOptions()
    provenance = Provenance(source=source_description(volume, source))
    provenance.add_step("import", source=Path(source).name)
    segmentation = run_recipe(volume, recipe, progress=progress)
    provenance.add_step("segmentation", **_recipe_parameters(recipe),
                        notes=list(segmentation.notes))
    twin = build_twin(segmentation.labelmap, regions=segmentation.regions, options=options,
                      progress=progress)
    provenance.add_step("twin", **_twin_parameters(options))
    return Case(volume=volume, twin=twin, plan=Plan(), provenance=provenance)


def _twin_parameters(options: TwinOptions) -> dict:
    values = asdict(options)
    values["tet_nodes"] = list(options.tet_nodes)
    return values
