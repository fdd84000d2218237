"""The single-file case (``.surgiplan``): saved atomically with a backup, loaded with checks.

A case file is a zip (deflated) holding the volume, label map, structures (region, surface and
physics mesh), display settings, plan and rehearsal runs (layout in
:mod:`surgiplan.case.case_codec`), plus ``manifest.json``: schema version, the software that wrote
it, authorship and timestamps, provenance (source, steps with their parameters), a volume
summary, the structure table and the SHA-256 of every member.

Crash safety of :func:`save_case` (see :func:`~surgiplan.case.case_archive.replace_atomically`):
the new file is written completely to a hidden temporary file beside the target
(``.<name>.<random>.tmp``, never ending in ``.surgiplan``) and fsynced; only then is the previous
file hard-linked (or copied) to ``<name>.bak`` and the temporary renamed over the target with
:func:`os.replace` (atomic within a folder), and the folder fsynced. A process killed at any
moment leaves the target either the complete old file or the complete new one.

Examples
--------
>>> path = save_case(case, "liver.surgiplan")          # doctest: +SKIP
>>> case = load_case(path)                             # doctest: +SKIP
>>> case_info(path).plan_counts                        # doctest: +SKIP
{'incisions': 1, 'instruments': 1, 'landmarks': 1, 'measurements': 0}
"""

from __future__ import annotations

import contextlib
import functools
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from surgiplan.case.case_archive import (
    MANIFEST,
    ZIP_MAGIC,
    ArchiveWriter,
    CaseFileError,
    Members,
    backup_path,
    damaged,
    json_bytes,
    replace_atomically,
)
from surgiplan.case.case_codec import (
    CASE_FORMAT,
    CASE_SCHEMA_VERSION,
    read_case,
    read_provenance,
    write_case,
)
from surgiplan.case.case_migrations import MIGRATIONS, schema_version_of
from surgiplan.case.model import Case, Provenance
from surgiplan.errors import InputError, OutputError

__all__ = [
    "CASE_SCHEMA_VERSION", "CASE_SUFFIX", "MIGRATIONS", "CaseFileError", "CaseInfo",
    "StructureEntry", "autosave", "backup_path", "case_info", "discard_recovery",
    "has_recovery", "load_case", "recovery_path", "save_case",
]

# CASE_SCHEMA_VERSION (from case_codec): schema of the files this version writes; older ones
# are migrated (case_migrations), newer ones refused.

CASE_SUFFIX = ".surgiplan"
RECOVERY_SUFFIX = ".recovery"
COMPRESS_LEVEL = 1
"""Deflate level: CT voxels gain little beyond level 1 and level 6 is several times slower."""


@dataclass(frozen=True)
class StructureEntry:
    """One row of a case's structure table (read from the manifest, no arrays)."""

    name: str
    label: int
    tissue: str
    critical: bool
    volume_ml: float
    triangles: int
    tet_nodes: int
    tet_elements: int


@dataclass(frozen=True)
class CaseInfo:
    """What a case file holds, read from its manifest and plan only.

    Attributes
    ----------
    path : Path
        The file.
    schema_version : int
        Schema of the file as stored (before any migration).
    software_version : str
        SurgiPlan version that wrote the file.
    saved : str
        When the file was written (ISO 8601 UTC).
    provenance : Provenance
        Source, steps, author and timestamps of the case.
    volume : dict or None
        Shape, dtype, modality, spacing (mm) and whether identity was included; ``None`` for
        files of schema 0.
    structures : tuple of StructureEntry
        The structure table.
    plan_ids : dict
        Item ids by plan collection, in plan order.
    rehearsals : int
        Number of recorded rehearsal runs.
    thresholds : dict
        The plan's threshold overrides (rule id -> partial entry of
        ``data/risk_thresholds.json``); empty when it uses the shipped table.
    """

    path: Path
    schema_version: int
    software_version: str
    saved: str
    provenance: Provenance
    volume: dict[str, Any] | None
    structures: tuple[StructureEntry, ...]
    plan_ids: dict[str, tuple[str, ...]]
    rehearsals: int
    thresholds: dict[str, Any] = field(default_factory=dict)

    @property
    def plan_counts(self) -> dict[str, int]:
        """Number of items by plan collection."""
        return {name: len(ids) for name, ids in self.plan_ids.items()}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ``surgiplan case info --json``."""
        provenance = self.provenance
        return {
            "path": str(self.path), "schema_version": self.schema_version,
            "software_version": self.software_version, "saved": self.saved,
            "author": provenance.author, "created": provenance.created,
            "modified": provenance.modified, "source": provenance.source,
            "steps": [{"name": s.name, "parameters": s.parameters, "timestamp": s.timestamp,
                       "software_version": s.software_version} for s in provenance.steps],
            "volume": self.volume,
            "structures": [vars(entry).copy() for entry in self.structures],
            "plan": {name: list(ids) for name, ids in self.plan_ids.items()},
            "plan_counts": self.plan_counts, "rehearsals": self.rehearsals,
            "thresholds": self.thresholds,
        }


def case_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with the ``.surgiplan`` suffix added when it has not got it."""
    path = Path(path)
    return path if path.name.endswith(CASE_SUFFIX) else path.with_name(path.name + CASE_SUFFIX)


def recovery_path(path: str | os.PathLike[str]) -> Path:
    """The autosave file of case ``path``: ``<name>.surgiplan.recovery``."""
    target = case_path(path)
    return target.with_name(target.name + RECOVERY_SUFFIX)


def save_case(case: Case, path: str | os.PathLike[str], *,
              include_identity: bool = False) -> Path:
    """Save ``case`` to one ``.surgiplan`` file, atomically, keeping the old file as a backup.

    Parameters
    ----------
    case : Case
        What to save.
    path : path-like
        Target file; ``.surgiplan`` is appended when missing.
    include_identity : bool
        Write the patient's identifying fields (``Volume.identity`` and identifying keywords
        in metadata and source). Off by default: the saved case is de-identified.

    Returns
    -------
    Path
        The file written. Its previous version, if any, is now ``<name>.surgiplan.bak``.

    Raises
    ------
    OutputError
        When the folder is missing or not writable, the disk is full, or the case holds
        values that cannot be saved; the existing file is then untouched.
    """
    target = case_path(path)
    write = functools.partial(_write_archive, case, include_identity=include_identity)
    replace_atomically(target, write, keep_backup=True)
    return target


def autosave(case: Case, path: str | os.PathLike[str], *,
             include_identity: bool = False) -> Path:
    """Write ``case`` to the recovery file of ``path`` (atomically, no backup); return it."""
    target = recovery_path(path)
    write = functools.partial(_write_archive, case, include_identity=include_identity)
    replace_atomically(target, write, keep_backup=False)
    return target


def has_recovery(path: str | os.PathLike[str]) -> bool:
    """Whether an autosave newer than the case file ``path`` (or with no case file) exists."""
    recovery, target = recovery_path(path), case_path(path)
    if not recovery.is_file():
        return False
    if not target.is_file():
        return True
    return recovery.stat().st_mtime_ns > target.stat().st_mtime_ns


def discard_recovery(path: str | os.PathLike[str]) -> bool:
    """Delete the recovery file of ``path``; return whether there was one."""
    recovery = recovery_path(path)
    try:
        recovery.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutputError(f"cannot delete {recovery}: {exc.strerror or exc}") from exc
    return True


def load_case(path: str | os.PathLike[str]) -> Case:
    """Open a case file: every member checked, older schemas migrated, the twin restored.

    Raises
    ------
    CaseFileError
        When the file is missing, not a case file, damaged or truncated (message naming the
        backup when there is one), or written by a newer SurgiPlan. Nothing is written.
    """
    path = Path(path)
    with _open_case(path) as (manifest, members, _):
        try:
            case = read_case(manifest, members)
        except CaseFileError:
            raise
        except (InputError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise damaged(path, f"unreadable content: {exc}") from exc
        members.verify_all()
    return case


def case_info(path: str | os.PathLike[str]) -> CaseInfo:
    """What a case file holds, from its manifest and plan only (no array is read).

    Raises
    ------
    CaseFileError
        As :func:`load_case`.
    """
    from surgiplan.plan.model import COLLECTIONS
    from surgiplan.plan.plan_json import plan_from_json

    path = Path(path)
    with _open_case(path) as (manifest, members, version):
        try:
            plan = plan_from_json(members.json("plan.json"))
            return CaseInfo(
                path=path, schema_version=version,
                software_version=manifest["software_version"], saved=manifest["saved"],
                provenance=read_provenance(manifest), volume=manifest.get("volume"),
                structures=tuple(_entry(row) for row in manifest["structures"]),
                plan_ids={name: tuple(plan.collection(name)) for name in COLLECTIONS},
                rehearsals=len(manifest.get("rehearsals", [])), thresholds=plan.thresholds)
        except CaseFileError:
            raise
        except (InputError, KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"unreadable manifest or plan: {exc}") from exc


def _entry(row: dict[str, Any]) -> StructureEntry:
    return StructureEntry(name=row["name"], label=int(row["label"]), tissue=row["tissue"],
                          critical=bool(row["critical"]), volume_ml=float(row["volume_ml"]),
                          triangles=int(row["triangles"]), tet_nodes=int(row["tet_nodes"]),
                          tet_elements=int(row["tet_elements"]))


# --- reading -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _open_case(path: Path) -> Iterator[tuple[dict[str, Any], Members, int]]:
    """The current-schema manifest, the members view and the stored schema of a case file."""
    _check_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise damaged(path, f"its end (the zip directory) is missing or unreadable: {exc}") from exc
    with archive:
        manifest = _read_manifest(archive, path)
        version = _stored_version(manifest, path)
        members = Members(archive, path, _hashes(manifest, version, path))
        yield _migrate(manifest, members, version, path), members, version


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CaseFileError(f"no case file at {path}")
    if not path.is_file():
        raise CaseFileError(f"{path} is not a file: choose a {CASE_SUFFIX} case file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(ZIP_MAGIC))
    except OSError as exc:
        raise CaseFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not head:
        raise CaseFileError(f"{path.name} is empty: not a SurgiPlan case file")
    if head != ZIP_MAGIC:
        raise CaseFileError(f"{path.name} is not a SurgiPlan case file (not a zip archive)")


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    if MANIFEST not in archive.namelist():
        raise CaseFileError(f"{path.name} is not a SurgiPlan case file (no {MANIFEST})")
    manifest = Members(archive, path, {}).json(MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != CASE_FORMAT:
        raise CaseFileError(f"{path.name} is not a SurgiPlan case file "
                            f"({MANIFEST} is not a case manifest)")
    return manifest


def _stored_version(manifest: dict[str, Any], path: Path) -> int:
    try:
        version = schema_version_of(manifest)
    except (TypeError, ValueError) as exc:
        raise damaged(path, f"invalid schema version: {exc}") from exc
    if version > CASE_SCHEMA_VERSION:
        raise CaseFileError(f"{path.name} was made by a newer SurgiPlan (schema {version} > "
                            f"{CASE_SCHEMA_VERSION}): update SurgiPlan to open it")
    if version < 0:
        raise damaged(path, f"invalid schema version {version}")
    return version


def _hashes(manifest: dict[str, Any], version: int, path: Path) -> dict[str, str]:
    if version == 0:
        return {}
    try:
        return {str(row["name"]): str(row["sha256"]) for row in manifest["content"]}
    except (KeyError, TypeError) as exc:
        raise damaged(path, f"the manifest has no valid content list: {exc}") from exc


def _migrate(manifest: dict[str, Any], members: Members, version: int,
             path: Path) -> dict[str, Any]:
    while version < CASE_SCHEMA_VERSION:
        migration = MIGRATIONS.get(version)
        if migration is None:
            raise CaseFileError(f"{path.name} has schema {version}, which this SurgiPlan "
                                "cannot migrate")
        try:
            manifest = migration(manifest, members)
        except CaseFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(path, f"schema {version} file cannot be migrated: {exc}") from exc
        version = schema_version_of(manifest)
    return manifest


# --- writing -----------------------------------------------------------------------------------

def _write_archive(case: Case, stream: IO[bytes], *, include_identity: bool) -> None:
    """The whole case as a deflated zip into ``stream``; the manifest goes last, with hashes."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=COMPRESS_LEVEL) as archive:
        out = ArchiveWriter(archive)
        manifest = write_case(case, out, include_identity=include_identity)
        manifest["content"] = out.content
        archive.writestr(MANIFEST, json_bytes(manifest))
