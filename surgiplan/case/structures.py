"""Build structures one at a time for an open case: preset, seed or imported label map.

The app calls these in a worker; the results are added to the twin through the case session's
undoable :class:`~surgiplan.case.twin_edits.AddStructure`, on the GUI thread. Nothing here
modifies the twin it is given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from surgiplan.case.create import source_description
from surgiplan.case.model import Case, Provenance
from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.plan.model import Plan
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation.anatomy import structure_info
from surgiplan.segmentation.growing import grow_region
from surgiplan.segmentation.label_import import import_label_map
from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from surgiplan.segmentation.presets import load_presets, segment_preset
from surgiplan.twin.builder import TwinOptions, build_structure
from surgiplan.twin.twin import PatientTwin, StructureModel

SEED_MAX_VOLUME_ML = 4000.0
"""Leak guard of a seed grown from a click: larger than any organ (a liver is ~1.5 L)."""


def empty_case(volume: Volume, source: str) -> Case:
    """A case with the scan, an empty twin and an empty plan (structures are added later)."""
    provenance = Provenance(source=source_description(volume, source))
    provenance.add_step("import", source=os.path.basename(str(source)))
    twin = PatientTwin(LabelMap.empty_like(volume.shape, volume.affine_lps))
    return Case(volume=volume, twin=twin, plan=Plan(), provenance=provenance)


def unique_name(twin: PatientTwin, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... when the twin already has it."""
    name = name.strip()
    if name not in twin.structures:
        return name
    n = 2
    while f"{name}-{n}" in twin.structures:
        n += 1
    return f"{name}-{n}"


def _build(twin: PatientTwin, region, info: StructureInfo, options: TwinOptions
           ) -> StructureModel:
    info = replace(info, label=twin.labelmap.next_label(), name=unique_name(twin, info.name))
    return build_structure(region, info, twin.labelmap, options)


def structure_from_preset(volume: Volume, twin: PatientTwin, preset_name: str, *,
                          options: TwinOptions | None = None,
                          progress: ProgressCallback | None = None) -> StructureModel:
    """Segment one preset (``skin``, ``lung``, ``bone``...) and build its structure.

    The twin's ``skin`` region, when present, is reused as the body outline.

    Raises
    ------
    InputError
        Unknown preset, or nothing found in the scan.
    """
    presets = load_presets()
    if preset_name not in presets:
        raise InputError(f"unknown preset {preset_name!r}: choose from {', '.join(presets)}")
    preset = presets[preset_name]
    body = twin.structures["skin"].region if "skin" in twin.structures else None
    report(progress, 0, 2, f"Segmenting {preset_name}")
    region = segment_preset(volume, preset, body=body)
    if region.is_empty:
        raise InputError(f"the {preset_name} preset found nothing in this scan "
                         "(wrong modality or range?): try a seed instead")
    report(progress, 1, 2, f"Building the {preset_name} surface")
    info = StructureInfo(0, preset_name, tuple(preset.colour), preset.tissue, preset.critical)
    model = _build(twin, region, info, options or TwinOptions())
    report(progress, 2, 2, "Done")
    return model


def structure_from_seed(volume: Volume, twin: PatientTwin, name: str,
                        seed_lps_mm: Sequence[float], *,
                        window_hu: tuple[float, float] | None = None,
                        tolerance_hu: float = 100.0,
                        options: TwinOptions | None = None,
                        progress: ProgressCallback | None = None) -> StructureModel:
    """Grow a region from a clicked point (LPS mm) and build it as structure ``name``.

    Tissue and critical flag come from the name (``portal vein`` is a critical vessel).

    Raises
    ------
    InputError
        Seed outside the scan, or a region leaking past :data:`SEED_MAX_VOLUME_ML`.
    """
    report(progress, 0, 2, f"Growing {name}")
    region = grow_region(volume, seed_lps_mm=seed_lps_mm, window_hu=window_hu,
                         tolerance_hu=tolerance_hu, max_volume_ml=SEED_MAX_VOLUME_ML)
    report(progress, 1, 2, f"Building the {name} surface")
    model = _build(twin, region, structure_info(name), options or TwinOptions())
    report(progress, 2, 2, "Done")
    return model


def structures_from_labels(volume: Volume, twin: PatientTwin, path: str | os.PathLike[str], *,
                           options: TwinOptions | None = None,
                           progress: ProgressCallback | None = None) -> list[StructureModel]:
    """Import a label map file (NIfTI/NRRD; TotalSegmentator ids named) and build each label.

    The models are built against a scratch copy of the label table, so their labels do not
    clash with each other or with the twin's; add them in order.
    """
    imported = import_label_map(path, shape=volume.shape, affine_lps=volume.affine_lps)
    scratch = PatientTwin(LabelMap(twin.labelmap.labels[:0], twin.labelmap.affine_lps,
                                   list(twin.labelmap.structures)), dict(twin.structures))
    models = []
    for done, info in enumerate(imported.structures):
        report(progress, done, len(imported.structures), f"Building {info.name}")
        model = _build(scratch, imported.region(info.name), replace(info, label=0),
                       options or TwinOptions())
        scratch.labelmap.structures.append(model.info)
        scratch.structures[model.name] = model
        models.append(model)
    report(progress, len(models), len(models), "Done")
    return models
