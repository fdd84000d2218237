"""The case file: bit-identical round trip, de-identification, backups, crash safety, errors."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from surgiplan.case.case_file import (
    CaseFileError,
    autosave,
    backup_path,
    case_info,
    discard_recovery,
    has_recovery,
    load_case,
    recovery_path,
    save_case,
)
from surgiplan.case.model import Case, Provenance, Step
from surgiplan.errors import OutputError
from surgiplan.imaging.geometry import SeriesWarning
from surgiplan.imaging.volume import PatientIdentity, Volume
from surgiplan.plan.model import Incision, InstrumentPlacement, Landmark, Plan
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.builder import TwinOptions, build_twin
from tests.dicom_factory import rotation

SECRET_NAME = "Secret^Name"
SECRET_ID = "ID-998877"
SHAPE = (24, 32, 32)
RIB = "Left rib / 5"  # a name that is not a safe folder name


def _affine() -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = rotation((0, 1, 1), 20.0) @ np.diag([0.8, 0.8, 1.25])
    affine[:3, 3] = (-10.0, -12.0, 5.0)
    return affine


def _labelmap(affine: np.ndarray) -> LabelMap:
    """A 'liver' ball (deformable: gets a tet mesh) and a bone ball (rigid: none)."""
    labels = LabelMap.empty_like(SHAPE, affine)
    k, j, i = np.indices(SHAPE)
    liver = 1.5 * (k - 12) ** 2 + (j - 12) ** 2 + (i - 12) ** 2 <= 49
    rib = (k - 12) ** 2 + (j - 22) ** 2 + (i - 22) ** 2 <= 16
    labels.add(Region.from_full_mask(liver), StructureInfo(0, "liver", (0.6, 0.2, 0.2), "liver"))
    labels.add(Region.from_full_mask(rib), StructureInfo(0, RIB, (0.9, 0.9, 0.8), "bone", True))
    return labels


THRESHOLDS = {"safety_margin": {"thresholds": {"warning_mm": 2.0},
                                "per_structure": {"portal_vein": {"critical_mm": 1.5}}}}
"""The sample plan's threshold overrides (kept by a round trip)."""


def _plan(n_landmarks: int = 1) -> Plan:
    pose = np.eye(4)
    pose[:3, :3] = rotation((1, 0, 0), 30.0)
    pose[:3, 3] = (3.0, -4.5, 12.25)
    needle = InstrumentPlacement("needle-1", "biopsy_needle_18g", pose, 42.5,
                                 entry_lps_mm=(1.0, 2.0, 3.0), target_lps_mm=(3.0, -4.5, 12.25))
    incision = Incision("incision-1", "skin", ((0.0, 0.0, 0.0), (10.0, 0.5, -2.0)), 4.0)
    landmarks = [Landmark(f"landmark-{n}", (1.5 * n, 2.0, -3.0), f"mark {n}")
                 for n in range(1, n_landmarks + 1)]
    return Plan(incisions={incision.id: incision}, instruments={needle.id: needle},
                landmarks={lm.id: lm for lm in landmarks}, thresholds=THRESHOLDS)


@pytest.fixture(scope="module")
def case() -> Case:
    affine = _affine()
    twin = build_twin(_labelmap(affine), options=TwinOptions(tet_nodes=(200, 600)))
    twin.structures["liver"].notes = ["surface repair: kept for the test"]
    twin.display["liver"].opacity = 0.5
    twin.display[RIB].visible = False
    voxels = np.random.default_rng(7).integers(-1024, 2000, SHAPE, dtype=np.int16)
    volume = Volume(voxels, affine, "CT",
                    metadata={"SeriesInstanceUID": "1.2.826.0.1.3", "SeriesDescription": "abd"},
                    identity=PatientIdentity({"PatientName": SECRET_NAME, "PatientID": SECRET_ID}),
                    warnings=(SeriesWarning("resampled", "slices resampled to 1.25 mm"),))
    provenance = Provenance(
        source={"SeriesInstanceUID": "1.2.826.0.1.3", "sha256": "ab" * 32, "files": 24},
        steps=[Step("import", {"folder": "series-1"}),
               Step("twin", {"tet_nodes": [200, 600], "smoothing": 0.1})],
        author="surgeon1", created="2026-01-02T03:04:05+00:00",
        modified="2026-01-02T04:05:06+00:00")
    return Case(volume, twin, _plan(), provenance, rehearsals=[{"score": 87.5, "events": [1, 2]}])


def _other(case: Case, n_landmarks: int) -> Case:
    """The same case with a different plan (so two saves can be told apart)."""
    return dataclasses.replace(case, plan=_plan(n_landmarks))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_case(loaded: Case, case: Case, *, schema0: bool = False) -> None:
    """Every array bit-identical, every table equal (``schema0``: what schema 0 did not hold
    (notes, tet cell size and source volume, rehearsals) is left out)."""
    assert _same_bits(loaded.volume.voxels, case.volume.voxels)
    assert _same_bits(loaded.volume.affine_lps, case.volume.affine_lps)
    assert (loaded.volume.modality, loaded.volume.metadata, loaded.volume.warnings) == (
        case.volume.modality, case.volume.metadata, case.volume.warnings)
    assert _same_bits(loaded.twin.labelmap.labels, case.twin.labelmap.labels)
    assert _same_bits(loaded.twin.labelmap.affine_lps, case.twin.labelmap.affine_lps)
    assert loaded.twin.labelmap.structures == case.twin.labelmap.structures
    assert list(loaded.twin.structures) == list(case.twin.structures)
    for name, model in case.twin.structures.items():
        got = loaded.twin.structures[name]
        assert got.info == model.info and (schema0 or got.notes == model.notes)
        assert _same_bits(got.region.mask, model.region.mask)
        assert (got.region.offset_kji, got.region.grid_shape) == (
            model.region.offset_kji, model.region.grid_shape)
        assert _same_bits(got.surface.vertices_lps_mm, model.surface.vertices_lps_mm)
        assert _same_bits(got.surface.faces, model.surface.faces)
        assert (got.physics is None) == (model.physics is None)
        if model.physics is not None:
            ours, theirs = got.physics.tet_mesh, model.physics.tet_mesh
            for field in ("nodes_lps_mm", "tets", "tet_tissue"):
                assert _same_bits(getattr(ours, field), getattr(theirs, field)), field
            assert (ours.tissue, ours.tissue_names) == (theirs.tissue, theirs.tissue_names)
            if not schema0:
                assert (ours.cell_size_mm, ours.source_volume_ml) == (
                    theirs.cell_size_mm, theirs.source_volume_ml)
    assert loaded.twin.display == case.twin.display
    assert loaded.twin.summaries() == case.twin.summaries()
    assert loaded.plan.snapshot() == case.plan.snapshot()
    assert loaded.plan.thresholds == ({} if schema0 else case.plan.thresholds)
    assert loaded.provenance == case.provenance
    assert loaded.rehearsals == ([] if schema0 else case.rehearsals)


def _members_bytes(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(source: Path, target: Path, change) -> None:
    """Copy a case archive member by member, letting ``change(name, data)`` alter each one."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            data = change(name, old.read(name))
            if data is not None:
                new.writestr(name, data)


def _folder_listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# --- round trip and layout ----------------------------------------------------------------------

def test_round_trip_is_bit_identical(case, tmp_path):
    path = save_case(case, tmp_path / "patient")
    assert path == tmp_path / "patient.surgiplan"
    assert_same_case(load_case(path), case)


def test_zip_layout_and_manifest(case, tmp_path):
    path = save_case(case, tmp_path / "layout.surgiplan")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"manifest.json", "volume/voxels.npy", "volume/meta.json", "labels/labels.npy",
            "labels/structures.json", "display.json", "plan.json",
            "rehearsals/0000.json"} <= names
    folders = {row["name"]: row["folder"] for row in manifest["structures"]}
    assert folders == {"liver": "structures/liver", RIB: "structures/Left_rib_5"}
    assert {f"{folders['liver']}/{part}.npz" for part in ("region", "surface", "tets")} <= names
    assert f"{folders[RIB]}/tets.npz" not in names  # bone is rigid
    assert manifest["schema_version"] == 2 and manifest["format"] == "surgiplan-case"
    assert manifest["provenance"]["steps"][1]["parameters"]["tet_nodes"] == [200, 600]
    assert manifest["author"] == "surgeon1"
    members = _members_bytes(path)
    import hashlib

    listed = {row["name"]: row["sha256"] for row in manifest["content"]}
    assert set(listed) == names - {"manifest.json"}
    assert all(hashlib.sha256(members[n]).hexdigest() == digest for n, digest in listed.items())


def test_identity_is_not_saved_unless_asked(case, tmp_path):
    volume = dataclasses.replace(case.volume, metadata={**case.volume.metadata,
                                                        "InstitutionName": "St Secret Hospital"})
    identified = dataclasses.replace(case, volume=volume)
    path = save_case(identified, tmp_path / "anonymous.surgiplan")
    raw = path.read_bytes()
    for secret in (SECRET_NAME, SECRET_ID, "St Secret Hospital"):
        assert secret.encode() not in raw
        assert not any(secret.encode() in data for data in _members_bytes(path).values())
    loaded = load_case(path)
    assert loaded.volume.identity.values == {}
    assert loaded.volume.metadata == case.volume.metadata
    assert case_info(path).volume["identity_included"] is False

    named = save_case(identified, tmp_path / "named.surgiplan", include_identity=True)
    assert any(SECRET_NAME.encode() in data for data in _members_bytes(named).values())
    reloaded = load_case(named)
    assert reloaded.volume.identity.values == {"PatientName": SECRET_NAME, "PatientID": SECRET_ID}
    assert reloaded.volume.metadata["InstitutionName"] == "St Secret Hospital"


# --- backups and crash safety -------------------------------------------------------------------

def test_second_save_keeps_the_previous_file_as_backup(case, tmp_path):
    path = tmp_path / "backup.surgiplan"
    save_case(_other(case, 1), path)
    assert not backup_path(path).exists()
    save_case(_other(case, 2), path)
    assert backup_path(path).name == "backup.surgiplan.bak"
    assert len(load_case(backup_path(path)).plan.landmarks) == 1
    assert len(load_case(path).plan.landmarks) == 2
    save_case(_other(case, 3), path)
    assert len(load_case(backup_path(path)).plan.landmarks) == 2
    assert len(load_case(path).plan.landmarks) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.surgiplan",
                                                          "backup.surgiplan.bak"]


def test_failed_save_leaves_the_file_and_no_temporary(case, tmp_path):
    path = save_case(case, tmp_path / "keep.surgiplan")
    before = _folder_listing(tmp_path)
    bad = dataclasses.replace(case, rehearsals=[{"pose": object()}])
    with pytest.raises(OutputError, match="cannot save"):
        save_case(bad, path)
    assert _folder_listing(tmp_path) == before
    with pytest.raises(OutputError, match="does not exist"):
        save_case(case, tmp_path / "missing-folder" / "x.surgiplan")


KILL_SCRIPT = r"""
import dataclasses, os, sys, time
from pathlib import Path

import numpy as np

import surgiplan.case.case_archive as case_archive
import surgiplan.case.case_file as case_file

source, target, marker, phase = sys.argv[1:5]


def block(*_):
    Path(marker + ".part").write_text(phase)
    os.rename(marker + ".part", marker)  # the marker appears whole (os.replace may be patched)
    time.sleep(600)


if phase == "writing":  # inside the voxels member of the temporary file
    write = case_archive._HashingWriter.write
    def slow_write(self, data):
        done = write(self, data)
        if self.size > 1000:
            block()
        return done
    case_archive._HashingWriter.write = slow_write
elif phase == "before_backup":  # temporary complete and fsynced, nothing else done
    case_archive._keep_backup = block
elif phase == "before_rename":  # backup made, target not yet replaced
    replace = os.replace
    def slow_replace(src, dst):
        if Path(dst) == Path(target):
            block()
        return replace(src, dst)
    os.replace = slow_replace
elif phase == "after_rename":  # target replaced, folder not yet fsynced
    case_archive._fsync_folder = block

case = case_file.load_case(source)
if phase == "big":  # no hook: a 32 MB volume keeps the writer busy; the test kills it
    voxels = np.random.default_rng(0).random((200, 200, 200), dtype=np.float32)
    case = dataclasses.replace(case, volume=dataclasses.replace(case.volume, voxels=voxels))
case_file.save_case(case, target)
Path(marker + ".finished").touch()
"""


def _wait_for(condition, process, timeout_s: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the saving process ended early: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the saving process never reached the point to kill it")
        time.sleep(0.002)


@pytest.mark.parametrize("phase, replaced", [
    ("writing", False), ("before_backup", False), ("before_rename", False),
    ("after_rename", True), ("big", False)])
def test_save_killed_at_any_point_leaves_a_complete_file(case, tmp_path, phase, replaced):
    import subprocess
    import sys

    work, sources = tmp_path / "work", tmp_path / "sources"
    work.mkdir()
    sources.mkdir()
    target = save_case(_other(case, 1), work / "case.surgiplan")
    newer = save_case(_other(case, 2), sources / "newer.surgiplan")
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(newer), str(target),
                                str(marker), phase], stderr=subprocess.PIPE)
    if phase == "big":
        def started() -> bool:
            return any(p.stat().st_size > 0 for p in work.glob(".case.surgiplan.*.tmp"))
        _wait_for(started, process)
    else:
        _wait_for(marker.exists, process)
    process.kill()  # SIGKILL on POSIX: no cleanup code runs
    process.wait()
    process.stderr.close()
    assert not (tmp_path / "marker.finished").exists()  # killed before the save ended
    assert phase == "big" or marker.read_text() == phase

    assert len(load_case(target).plan.landmarks) == (2 if replaced else 1)
    if backup_path(target).exists():
        assert len(load_case(backup_path(target)).plan.landmarks) == 1
    cases = sorted(p.name for p in work.iterdir() if p.name.endswith(".surgiplan"))
    assert cases == ["case.surgiplan"]  # a leftover temporary never looks like a case
    save_case(_other(case, 3), target)  # and does not get in the way of the next save
    assert len(load_case(target).plan.landmarks) == 3


# --- damaged, foreign and newer files ------------------------------------------------------------

def _saved_twice(case: Case, folder: Path) -> Path:
    path = save_case(_other(case, 1), folder / "case.surgiplan")
    save_case(case, path)
    return path


def _refused(path: Path, match: str, readers=(load_case, case_info)) -> None:
    """The readers refuse ``path`` with ``match``; nothing in its folder changes."""
    before = _folder_listing(path.parent)
    for reader in readers:
        with pytest.raises(CaseFileError, match=match):
            reader(path)
    assert _folder_listing(path.parent) == before


def test_truncated_file(case, tmp_path):
    path = _saved_twice(case, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.7)])
    _refused(path, r"case.surgiplan is damaged or truncated .*"
                   r"\(the backup case.surgiplan.bak may hold the previous version\)")
    assert len(load_case(backup_path(path)).plan.landmarks) == 1


def _data_offset(path: Path, member: str) -> tuple[int, int]:
    """Where the stored (compressed) bytes of ``member`` start in the file, and their length."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    header = path.read_bytes()[info.header_offset:info.header_offset + 30]
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


@pytest.mark.parametrize("member", ["volume/voxels.npy", "plan.json"])
def test_flipped_byte_inside_a_member(case, tmp_path, member):
    path = _saved_twice(case, tmp_path)
    start, length = _data_offset(path, member)
    data = bytearray(path.read_bytes())
    data[start + length // 2] ^= 0x40
    path.write_bytes(bytes(data))
    # case_info reads the manifest and plan only: a damaged volume shows when loading
    readers = (load_case, case_info) if member == "plan.json" else (load_case,)
    _refused(path, rf"damaged or truncated \(member {member}", readers)


def test_member_changed_behind_the_checksum(case, tmp_path):
    path = _saved_twice(case, tmp_path)
    bad = tmp_path / "bad.surgiplan"

    def change(name: str, data: bytes) -> bytes:  # a valid zip (CRC fine), a different member
        return data.replace(b"0.5", b"0.6") if name == "display.json" else data
    _rewrite(path, bad, change)
    with pytest.raises(CaseFileError, match="member display.json fails its SHA-256 checksum"):
        load_case(bad)


def test_missing_member(case, tmp_path):
    path = _saved_twice(case, tmp_path)
    bad = tmp_path / "bad.surgiplan"
    _rewrite(path, bad, lambda name, data: None if name == "labels/labels.npy" else data)
    with pytest.raises(CaseFileError, match="member labels/labels.npy is missing"):
        load_case(bad)


def test_files_that_are_not_cases(tmp_path):
    junk = tmp_path / "junk.surgiplan"
    junk.write_bytes(np.random.default_rng(1).bytes(5000))
    _refused(junk, r"junk.surgiplan is not a SurgiPlan case file \(not a zip archive\)")
    empty = tmp_path / "empty.surgiplan"
    empty.write_bytes(b"")
    _refused(empty, "empty.surgiplan is empty: not a SurgiPlan case file")
    other = tmp_path / "other.surgiplan"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _refused(other, r"not a SurgiPlan case file \(no manifest.json\)")
    with pytest.raises(CaseFileError, match="no case file at"):
        load_case(tmp_path / "absent.surgiplan")
    with pytest.raises(CaseFileError, match="is not a file"):
        load_case(tmp_path)


def test_newer_schema_is_refused(case, tmp_path):
    path = save_case(case, tmp_path / "case.surgiplan")
    newer = tmp_path / "newer.surgiplan"

    def bump(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        return json.dumps({**json.loads(data), "schema_version": 3}).encode()
    _rewrite(path, newer, bump)
    _refused(newer, r"newer.surgiplan was made by a newer SurgiPlan \(schema 3 > 2\): "
                    "update SurgiPlan to open it")


# --- migration -----------------------------------------------------------------------------------

def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _write_v0(case: Case, path: Path) -> None:
    """The pre-release layout described in surgiplan.case.case_migrations."""
    from surgiplan.plan.plan_json import plan_to_json

    twin, volume, provenance = case.twin, case.volume, case.provenance
    table = [{**dataclasses.asdict(m.info), "volume_ml": m.properties.volume_ml,
              "voxel_volume_ml": m.voxel_volume_ml, "triangles": m.surface.n_triangles,
              "tet_nodes": m.physics.tet_mesh.n_nodes if m.physics else 0,
              "tet_elements": m.physics.tet_mesh.n_tets if m.physics else 0}
             for m in twin.structures.values()]
    manifest = {
        "format": "surgiplan-case", "version": 0,
        "software_version": provenance.software_version, "author": provenance.author,
        "created": provenance.created, "modified": provenance.modified,
        "source": provenance.source, "steps": [dataclasses.asdict(s) for s in provenance.steps],
        "structures": table,
        "plan": {k: v for k, v in plan_to_json(case.plan).items() if k != "thresholds"},
        "display": {n: dataclasses.asdict(d) for n, d in twin.display.items()},
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("volume.npy", _npy(volume.voxels))
        archive.writestr("volume.json", json.dumps({
            "affine_lps": volume.affine_lps.tolist(), "modality": volume.modality,
            "metadata": volume.metadata,
            "warnings": [dataclasses.asdict(w) for w in volume.warnings]}))
        archive.writestr("labels.npy", _npy(twin.labelmap.labels))
        for name, model in twin.structures.items():
            region = model.region
            archive.writestr(f"regions/{name}.npz", _npz(
                mask=region.mask, offset_kji=np.array(region.offset_kji),
                grid_shape=np.array(region.grid_shape)))
            archive.writestr(f"meshes/{name}.npz", _npz(
                vertices_lps_mm=model.surface.vertices_lps_mm, faces=model.surface.faces))
            if model.physics is not None:
                tets = model.physics.tet_mesh
                archive.writestr(f"tets/{name}.npz", _npz(nodes_lps_mm=tets.nodes_lps_mm,
                                                          tets=tets.tets))


def test_schema_0_file_is_migrated(case, tmp_path):
    path = tmp_path / "old.surgiplan"
    _write_v0(case, path)
    before = path.read_bytes()
    loaded = load_case(path)
    assert path.read_bytes() == before  # migration happens in memory only
    assert_same_case(loaded, case, schema0=True)
    liver = loaded.twin.structures["liver"]
    tets = liver.physics.tet_mesh
    assert np.isnan(tets.cell_size_mm) and np.isnan(tets.source_volume_ml)  # unknown in v0
    assert tets.tissue_names == ("liver",) and not tets.tet_tissue.any()
    assert liver.notes == [] and loaded.rehearsals == []

    info = case_info(path)
    assert info.schema_version == 0 and info.volume is None
    assert [s.name for s in info.structures] == ["liver", RIB]
    assert info.plan_counts == {"incisions": 1, "instruments": 1, "landmarks": 1,
                                "measurements": 0}


def test_schema_1_file_without_threshold_overrides_is_migrated(case, tmp_path):
    """Schema 1 plans had no "thresholds": they load with none (the shipped table)."""
    import hashlib

    path = save_case(case, tmp_path / "v2.surgiplan")
    old = tmp_path / "v1.surgiplan"
    members = _members_bytes(path)
    plan = json.loads(members["plan.json"])
    del plan["thresholds"]
    members["plan.json"] = json.dumps(plan).encode()
    manifest = json.loads(members.pop("manifest.json"))
    manifest["schema_version"] = 1
    manifest["content"] = [{**row, "sha256": hashlib.sha256(members[row["name"]]).hexdigest()}
                           for row in manifest["content"]]
    with zipfile.ZipFile(old, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", json.dumps(manifest))
    loaded = load_case(old)
    assert loaded.plan.thresholds == {}
    assert loaded.plan.snapshot() == case.plan.snapshot()
    info = case_info(old)
    assert info.schema_version == 1 and info.thresholds == {}
    resaved = save_case(loaded, tmp_path / "resaved.surgiplan")
    assert json.loads(_members_bytes(resaved)["manifest.json"])["schema_version"] == 2


# --- autosave and case info ----------------------------------------------------------------------

def test_autosave_recovery_lifecycle(case, tmp_path):
    import os

    path = tmp_path / "live.surgiplan"
    assert not has_recovery(path)
    autosave(_other(case, 2), path)  # never saved yet: the recovery is all there is
    assert recovery_path(path) == tmp_path / "live.surgiplan.recovery"
    assert has_recovery(path)
    save_case(_other(case, 1), path)
    recovery = recovery_path(path)
    os.utime(recovery, ns=(path.stat().st_mtime_ns - 10**9,) * 2)
    assert not has_recovery(path)  # the saved file is newer
    autosave(_other(case, 3), tmp_path / "live")  # suffix added as for save_case
    os.utime(path, ns=(recovery.stat().st_mtime_ns - 10**9,) * 2)
    assert has_recovery(path)
    assert len(load_case(recovery).plan.landmarks) == 3
    assert len(load_case(path).plan.landmarks) == 1
    assert not backup_path(recovery).exists()  # autosave keeps no backup
    assert discard_recovery(path) and not recovery.exists() and not has_recovery(path)
    assert not discard_recovery(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.surgiplan"]


def test_case_info_reads_manifest_and_plan_only(case, tmp_path, monkeypatch):
    path = save_case(case, tmp_path / "info.surgiplan")
    opened = []
    original_open = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return original_open(self, name, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    info = case_info(path)
    assert sorted(set(opened)) == ["manifest.json", "plan.json"]

    assert info.schema_version == 2 and info.rehearsals == 1
    assert info.thresholds == THRESHOLDS and info.to_json()["thresholds"] == THRESHOLDS
    assert info.provenance == case.provenance
    assert info.volume["shape"] == list(SHAPE) and info.volume["modality"] == "CT"
    liver = case.twin.structures["liver"]
    rows = {row.name: row for row in info.structures}
    assert list(rows) == ["liver", RIB]
    assert rows["liver"].volume_ml == liver.properties.volume_ml
    assert rows["liver"].triangles == liver.surface.n_triangles
    assert rows["liver"].tet_nodes == liver.physics.tet_mesh.n_nodes > 0
    assert (rows[RIB].tissue, rows[RIB].critical, rows[RIB].tet_nodes) == ("bone", True, 0)
    assert info.plan_ids == {"incisions": ("incision-1",), "instruments": ("needle-1",),
                             "landmarks": ("landmark-1",), "measurements": ()}
    assert info.plan_counts["instruments"] == 1
    assert json.loads(json.dumps(info.to_json()))["structures"][0]["name"] == "liver"
