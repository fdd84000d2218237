"""A :class:`~surgiplan.case.model.Case` to archive members and back (schema 2).

Members of schema 2 (every array bit-identical after a round trip)::

    manifest.json                     written by surgiplan.case.case_file
    volume/voxels.npy                 Volume.voxels, dtype and layout as in memory
    volume/meta.json                  affine, modality, metadata, warnings (+ identity if asked)
    labels/labels.npy                 LabelMap.labels (uint16)
    labels/structures.json            LabelMap affine and structure table
    structures/<dir>/region.npz       mask_bits (packbits), mask_shape, offset_kji, grid_shape
    structures/<dir>/surface.npz      vertices_lps_mm, faces
    structures/<dir>/tets.npz         nodes_lps_mm, tets, tet_tissue, tissue_names, tissue,
                                      cell_size_mm, source_volume_ml (deformable structures only)
    display.json                      colour, opacity, visible by structure name
    plan.json                         surgiplan.plan.plan_json.plan_to_json(plan), with the
                                      plan's threshold overrides ("thresholds", schema 2)
    rehearsals/<nnnn>.json            one per rehearsal run, in order

``<dir>`` is the structure name made safe for a path (letters, digits, ``_`` and ``-``),
made unique by a numeric suffix; the manifest's structure table maps names to folders.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from surgiplan import __version__
from surgiplan.case.case_archive import ArchiveWriter, Members
from surgiplan.case.model import Case, Provenance, Step, now_iso
from surgiplan.imaging.geometry import SeriesWarning
from surgiplan.imaging.volume import IDENTIFYING_KEYWORDS, PatientIdentity, Volume
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.tetmesh import TetMesh
from surgiplan.twin.twin import DisplaySettings, PatientTwin, StructureModel

CASE_FORMAT = "surgiplan-case"
"""Value of the manifest's ``format`` key in every case file, of every schema (never change it:
it is how a reader tells a case from another zip before looking at the schema version)."""
CASE_SCHEMA_VERSION = 2
"""Schema of the files this version writes (2: the plan carries its threshold overrides)."""


def write_case(case: Case, out: ArchiveWriter, *, include_identity: bool) -> dict[str, Any]:
    """Write every member of ``case`` into ``out``; return the manifest without ``content``."""
    from surgiplan.plan.plan_json import plan_to_json

    _write_volume(case.volume, out, include_identity)
    _write_labels(case.twin.labelmap, out)
    table = _write_structures(case.twin, out)
    out.put_json("display.json", {name: {"colour": list(d.colour), "opacity": d.opacity,
                                          "visible": d.visible}
                                   for name, d in case.twin.display.items()})
    out.put_json("plan.json", plan_to_json(case.plan))
    rehearsals = []
    for n, run in enumerate(case.rehearsals):
        rehearsals.append(f"rehearsals/{n:04d}.json")
        out.put_json(rehearsals[-1], run)
    return _manifest(case, table, rehearsals, include_identity)


def read_case(manifest: dict[str, Any], members: Members) -> Case:
    """The case held by ``members`` as described by a current-schema ``manifest``."""
    from surgiplan.plan.plan_json import plan_from_json

    twin = read_twin(manifest, members)
    return Case(volume=_read_volume(members), twin=twin,
                plan=plan_from_json(members.json("plan.json")),
                provenance=read_provenance(manifest),
                rehearsals=[members.json(name) for name in manifest.get("rehearsals", [])])


def _manifest(case: Case, table: list[dict], rehearsals: list[str],
              include_identity: bool) -> dict[str, Any]:
    provenance = case.provenance
    volume = case.volume
    return {
        "format": CASE_FORMAT, "schema_version": CASE_SCHEMA_VERSION,
        "software_version": __version__,
        "saved": now_iso(), "author": provenance.author, "created": provenance.created,
        "modified": provenance.modified,
        "provenance": {
            "source": _without_identity(provenance.source, include_identity),
            "steps": [{"name": s.name, "parameters": s.parameters, "timestamp": s.timestamp,
                       "software_version": s.software_version} for s in provenance.steps],
            "software_version": provenance.software_version,
        },
        "volume": {"shape": list(volume.shape), "dtype": str(volume.voxels.dtype),
                   "modality": volume.modality, "spacing_mm": list(volume.spacing_mm),
                   "identity_included": bool(include_identity and volume.identity.values)},
        "structures": table,
        "rehearsals": rehearsals,
    }


def read_provenance(manifest: dict[str, Any]) -> Provenance:
    """The provenance recorded in a schema-1 manifest."""
    recorded = manifest["provenance"]
    steps = [Step(s["name"], s["parameters"], s["timestamp"], s["software_version"])
             for s in recorded["steps"]]
    return Provenance(source=recorded["source"], steps=steps, author=manifest["author"],
                      created=manifest["created"], modified=manifest["modified"],
                      software_version=recorded["software_version"])


def _without_identity(values: dict[str, Any], include_identity: bool) -> dict[str, Any]:
    """``values`` without identifying DICOM keywords unless identity was asked for."""
    if include_identity:
        return dict(values)
    return {key: value for key, value in values.items() if key not in IDENTIFYING_KEYWORDS}


def _write_volume(volume: Volume, out: ArchiveWriter, include_identity: bool) -> None:
    out.put_array("volume/voxels.npy", volume.voxels)
    meta: dict[str, Any] = {
        "affine_lps": np.asarray(volume.affine_lps, dtype=float).tolist(),
        "modality": volume.modality,
        "metadata": _without_identity(volume.metadata, include_identity),
        "warnings": [{"code": w.code, "message": w.message} for w in volume.warnings],
    }
    if include_identity:
        meta["identity"] = dict(volume.identity.values)
    out.put_json("volume/meta.json", meta)


def _read_volume(members: Members) -> Volume:
    meta = members.json("volume/meta.json")
    return Volume(voxels=members.array("volume/voxels.npy"),
                  affine_lps=np.array(meta["affine_lps"], dtype=float),
                  modality=meta["modality"], metadata=meta["metadata"],
                  identity=PatientIdentity(meta.get("identity", {})),
                  warnings=tuple(SeriesWarning(w["code"], w["message"])
                                 for w in meta["warnings"]))


def info_json(info: StructureInfo) -> dict[str, Any]:
    """A structure table entry as JSON."""
    return {"label": int(info.label), "name": info.name, "colour": list(info.colour),
            "tissue": info.tissue, "critical": bool(info.critical)}


def info_from_json(data: dict[str, Any]) -> StructureInfo:
    """The :class:`StructureInfo` of a JSON table entry (extra keys ignored)."""
    return StructureInfo(label=int(data["label"]), name=data["name"],
                         colour=tuple(float(c) for c in data["colour"]), tissue=data["tissue"],
                         critical=bool(data["critical"]))


def _write_labels(labelmap: LabelMap, out: ArchiveWriter) -> None:
    out.put_array("labels/labels.npy", labelmap.labels)
    out.put_json("labels/structures.json", {
        "affine_lps": np.asarray(labelmap.affine_lps, dtype=float).tolist(),
        "structures": [info_json(info) for info in labelmap.structures]})


def _read_labels(members: Members) -> LabelMap:
    table = members.json("labels/structures.json")
    return LabelMap(labels=members.array("labels/labels.npy"),
                    affine_lps=np.array(table["affine_lps"], dtype=float),
                    structures=[info_from_json(s) for s in table["structures"]])


def safe_folder(name: str, taken: set[str]) -> str:
    """A folder name for structure ``name``: safe characters only, unique among ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "structure"
    folder, n = base, 2
    while folder in taken:
        folder, n = f"{base}-{n}", n + 1
    taken.add(folder)
    return folder


def _write_structures(twin: PatientTwin, out: ArchiveWriter) -> list[dict[str, Any]]:
    table, taken = [], set()
    for model in twin.structures.values():
        folder = f"structures/{safe_folder(model.name, taken)}"
        _write_region(model.region, out, f"{folder}/region.npz")
        out.put_arrays(f"{folder}/surface.npz", vertices_lps_mm=model.surface.vertices_lps_mm,
                       faces=model.surface.faces)
        tets = model.physics.tet_mesh if model.physics is not None else None
        if tets is not None:
            _write_tets(tets, out, f"{folder}/tets.npz")
        table.append(_table_entry(model, folder, tets))
    return table


def _table_entry(model: StructureModel, folder: str, tets: TetMesh | None) -> dict[str, Any]:
    return {
        **info_json(model.info), "folder": folder, "has_tets": tets is not None,
        "volume_ml": float(model.properties.volume_ml),
        "voxel_volume_ml": float(model.voxel_volume_ml),
        "surface_area_cm2": float(model.properties.surface_area_cm2),
        "voxels": model.region.voxel_count, "triangles": model.surface.n_triangles,
        "tet_nodes": 0 if tets is None else tets.n_nodes,
        "tet_elements": 0 if tets is None else tets.n_tets,
        "notes": list(model.notes),
    }


def _write_region(region: Region, out: ArchiveWriter, name: str) -> None:
    out.put_arrays(name, mask_bits=np.packbits(region.mask.ravel()),
                   mask_shape=np.array(region.mask.shape, dtype=np.int64),
                   offset_kji=np.array(region.offset_kji, dtype=np.int64),
                   grid_shape=np.array(region.grid_shape, dtype=np.int64))


def region_from_arrays(arrays: dict[str, np.ndarray]) -> Region:
    """The :class:`Region` of a ``region.npz`` member's arrays."""
    shape = tuple(int(n) for n in arrays["mask_shape"])
    count = int(np.prod(shape, dtype=np.int64))
    mask = np.unpackbits(arrays["mask_bits"], count=count).astype(bool).reshape(shape)
    return Region(mask, tuple(int(v) for v in arrays["offset_kji"]),
                  tuple(int(v) for v in arrays["grid_shape"]))


def _write_tets(tets: TetMesh, out: ArchiveWriter, name: str) -> None:
    out.put_arrays(name, nodes_lps_mm=tets.nodes_lps_mm, tets=tets.tets,
                   tet_tissue=tets.tet_tissue, tissue_names=np.array(tets.tissue_names, dtype=str),
                   tissue=np.array(tets.tissue, dtype=str),
                   cell_size_mm=np.float64(tets.cell_size_mm),
                   source_volume_ml=np.float64(tets.source_volume_ml))


def _read_tets(arrays: dict[str, np.ndarray]) -> TetMesh:
    return TetMesh(nodes_lps_mm=arrays["nodes_lps_mm"], tets=arrays["tets"],
                   tissue=str(arrays["tissue"]), tet_tissue=arrays["tet_tissue"],
                   tissue_names=tuple(str(n) for n in arrays["tissue_names"]),
                   cell_size_mm=float(arrays["cell_size_mm"]),
                   source_volume_ml=float(arrays["source_volume_ml"]))


def read_twin(manifest: dict[str, Any], members: Members) -> PatientTwin:
    """The twin: label map, then each structure restored from its stored parts."""
    from surgiplan.twin.builder import restore_structure

    labelmap = _read_labels(members)
    twin = PatientTwin(labelmap)
    for entry in manifest["structures"]:
        folder = entry["folder"]
        surface = members.arrays(f"{folder}/surface.npz")
        tets = _read_tets(members.arrays(f"{folder}/tets.npz")) if entry["has_tets"] else None
        model = restore_structure(region_from_arrays(members.arrays(f"{folder}/region.npz")),
                                  info_from_json(entry), labelmap,
                                  SurfaceMesh(surface["vertices_lps_mm"], surface["faces"]), tets)
        model.notes = list(entry.get("notes", []))
        twin.structures[model.name] = model
    for name, shown in members.json("display.json").items():
        twin.display[name] = DisplaySettings(colour=tuple(float(c) for c in shown["colour"]),
                                             opacity=float(shown["opacity"]),
                                             visible=bool(shown["visible"]))
    return twin
