"""Migrations of older case files to the current schema, one version step at a time.

``MIGRATIONS[n]`` takes the manifest of a schema-``n`` file and its :class:`Members` view,
changes the view in place (rename, put, derive: the file itself is never written) and returns the
manifest of schema ``n + 1``. Loading applies them in turn until the current schema is reached.

Schema 0 is the pre-release layout (development builds before the manifest carried a
``schema_version``)::

    manifest.json       {"format": "surgiplan-case", "version": 0, "software_version",
                         "author", "created", "modified", "source", "steps",
                         "structures": [{"name", "label", "colour", "tissue", "critical",
                                         "volume_ml", "voxel_volume_ml", "triangles",
                                         "tet_nodes", "tet_elements"}],
                         "display": {name: {"colour", "opacity", "visible"}},
                         "plan": <plan_to_json(plan)>}
    volume.npy          voxels
    volume.json         {"affine_lps", "modality", "metadata", "warnings"[, "identity"]}
    labels.npy          label map (its table was the manifest's structure table, its affine the
                        volume's)
    regions/<name>.npz  mask (unpacked bool), offset_kji, grid_shape
    meshes/<name>.npz   vertices_lps_mm, faces
    tets/<name>.npz     nodes_lps_mm, tets (single tissue: no per-tet tissue, no cell size)

Members were named by the raw structure name and carried no SHA-256 (the zip CRC only); plan,
structure table and display settings lived inside the manifest; there were no rehearsals.

Schema 1 is schema 2 without per-plan threshold overrides: its ``plan.json`` has no
``"thresholds"``; the migration adds an empty one (the plan uses the shipped table).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from surgiplan.case.case_archive import Members, json_bytes
from surgiplan.case.case_codec import safe_folder

Migration = Callable[[dict[str, Any], Members], dict[str, Any]]


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _packed_region(members: Members, name: str) -> Callable[[], bytes]:
    def produce() -> bytes:
        old = members.arrays(name)
        mask = np.asarray(old["mask"], dtype=bool)
        return _npz_bytes(mask_bits=np.packbits(mask.ravel()),
                          mask_shape=np.array(mask.shape, dtype=np.int64),
                          offset_kji=np.asarray(old["offset_kji"], dtype=np.int64),
                          grid_shape=np.asarray(old["grid_shape"], dtype=np.int64))
    return produce


def _tissue_tets(members: Members, name: str, tissue: str) -> Callable[[], bytes]:
    def produce() -> bytes:
        old = members.arrays(name)
        return _npz_bytes(nodes_lps_mm=old["nodes_lps_mm"], tets=old["tets"],
                          tet_tissue=np.zeros(len(old["tets"]), dtype=np.int32),
                          tissue_names=np.array([tissue]), tissue=np.array(tissue),
                          cell_size_mm=np.float64(np.nan), source_volume_ml=np.float64(np.nan))
    return produce


def _label_table(members: Members, structures: list[dict[str, Any]]) -> Callable[[], bytes]:
    def produce() -> bytes:
        affine = members.json("volume/meta.json")["affine_lps"]
        keys = ("label", "name", "colour", "tissue", "critical")
        return json_bytes({"affine_lps": affine,
                           "structures": [{k: s[k] for k in keys} for s in structures]})
    return produce


def _structure_v0(entry: dict[str, Any], members: Members, taken: set[str]) -> dict[str, Any]:
    name = entry["name"]
    folder = f"structures/{safe_folder(name, taken)}"
    members.derive(f"{folder}/region.npz", _packed_region(members, f"regions/{name}.npz"))
    members.rename(f"meshes/{name}.npz", f"{folder}/surface.npz")
    has_tets = f"tets/{name}.npz" in members
    if has_tets:
        members.derive(f"{folder}/tets.npz",
                       _tissue_tets(members, f"tets/{name}.npz", entry["tissue"]))
    return {**entry, "folder": folder, "has_tets": has_tets, "notes": []}


def migrate_v0_to_v1(manifest: dict[str, Any], members: Members) -> dict[str, Any]:
    """Schema 0 (pre-release) to 1: plan, table and display out of the manifest, members renamed."""
    members.rename("volume.npy", "volume/voxels.npy")
    members.rename("volume.json", "volume/meta.json")
    members.rename("labels.npy", "labels/labels.npy")
    members.derive("labels/structures.json", _label_table(members, manifest["structures"]))
    members.put("plan.json", json_bytes(manifest["plan"]))
    members.put("display.json", json_bytes(manifest.get("display", {})))
    taken: set[str] = set()
    table = [_structure_v0(entry, members, taken) for entry in manifest["structures"]]
    return {
        "format": manifest["format"], "schema_version": 1,
        "software_version": manifest["software_version"], "saved": manifest["modified"],
        "author": manifest["author"], "created": manifest["created"],
        "modified": manifest["modified"],
        "provenance": {"source": manifest["source"], "steps": manifest["steps"],
                       "software_version": manifest["software_version"]},
        "volume": None, "structures": table, "rehearsals": [],
    }


def migrate_v1_to_v2(manifest: dict[str, Any], members: Members) -> dict[str, Any]:
    """Schema 1 to 2: the plan gains its (empty) threshold overrides."""
    plan = members.json("plan.json")
    if not isinstance(plan, dict):
        raise ValueError("plan.json is not a JSON object")
    members.put("plan.json", json_bytes({**plan, "thresholds": plan.get("thresholds") or {}}))
    return {**manifest, "schema_version": 2}


MIGRATIONS: dict[int, Migration] = {0: migrate_v0_to_v1, 1: migrate_v1_to_v2}
"""Migration from schema ``n`` (key) to ``n + 1``."""


def schema_version_of(manifest: dict[str, Any]) -> int:
    """The schema of a manifest: ``schema_version``, or 0 for the pre-release layout."""
    if "schema_version" in manifest:
        return int(manifest["schema_version"])
    return int(manifest.get("version", 0))

