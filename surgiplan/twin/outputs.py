"""Write a twin to a folder: meshes per structure, a merged scene, the label map, a summary."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from surgiplan.errors import OutputError
from surgiplan.io import atomic_path
from surgiplan.segmentation.label_export import write_colour_table, write_label_map
from surgiplan.twin.mesh_export import write_mesh, write_scene
from surgiplan.twin.twin import PatientTwin


@dataclass(frozen=True)
class TwinOutputs:
    """Paths written by :func:`write_twin`."""

    folder: Path
    meshes: dict[str, Path]
    scene: Path | None
    labels: Path
    segmentation: Path
    colour_table: Path
    summary: Path


def safe_name(name: str) -> str:
    """A file-name-safe version of a structure name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "structure"


def twin_summary(twin: PatientTwin, notes: list[str] | None = None) -> dict:
    """The summary object: the CLI contract's structures plus notes."""
    return {
        "structures": [s.to_json() for s in twin.summaries()],
        "notes": list(notes or []) + [f"{m.name}: {n}" for m in twin.structures.values()
                                       for n in m.notes],
    }


def write_twin(twin: PatientTwin, folder: Path, *, mesh_format: str = ".stl",
               notes: list[str] | None = None) -> TwinOutputs:
    """Write every structure's surface, a merged GLB scene, the label map and ``summary.json``.

    The label map is written as NIfTI (``labels.nii.gz`` with the Slicer colour table
    ``labels.ctbl`` naming its values) and as a 3D Slicer segmentation (``labels.seg.nrrd``).

    Raises
    ------
    OutputError
        When the folder cannot be created or written.
    """
    try:
        (folder / "meshes").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror}") from exc
    meshes = {}
    for name, model in twin.structures.items():
        path = folder / "meshes" / f"{safe_name(name)}{mesh_format}"
        meshes[name] = write_mesh(model.surface, path, colour=twin.display[name].colour)
    scene = None
    if twin.structures:
        scene = write_scene([(name, model.surface, twin.display[name].colour)
                             for name, model in twin.structures.items()], folder / "twin.glb")
    labels = write_label_map(twin.labelmap, folder / "labels.nii.gz")
    segmentation = write_label_map(twin.labelmap, folder / "labels.seg.nrrd")
    colour_table = write_colour_table(twin.labelmap, folder / "labels.ctbl")
    summary = folder / "summary.json"
    with atomic_path(summary) as temporary:
        temporary.write_text(json.dumps(twin_summary(twin, notes), indent=2))
    return TwinOutputs(folder, meshes, scene, labels, segmentation, colour_table, summary)
