"""The zip container of a case file: members written with their SHA-256, read back checked.

:func:`replace_atomically` puts a new file in place so that a process killed at any moment
leaves the target either complete and old or complete and new (the argument is in its docstring).
Writing streams each member into the archive (a CT volume is never held twice in memory) and
records its name, size and SHA-256 for the manifest. Reading goes through :class:`Members`, which
checks every member against the manifest's SHA-256 (and the zip CRC) when it is read, and lets a
migration rename, replace or derive members without touching the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np

from surgiplan.errors import InputError, OutputError

MANIFEST = "manifest.json"
"""Name of the manifest member."""

ZIP_MAGIC = b"PK\x03\x04"
"""First bytes of every zip archive written by SurgiPlan (a local file header)."""

TEMPORARY_SUFFIX = ".tmp"
"""Suffix of files being written: ``.<name>.<random>.tmp`` never looks like a case file."""

_CHUNK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
               RuntimeError)


class CaseFileError(InputError):
    """A case file cannot be opened: missing, not a case, damaged, truncated or too new."""


def backup_path(path: str | Path) -> Path:
    """Where :func:`surgiplan.case.case_file.save_case` keeps the previous version of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def damaged(path: Path, detail: str) -> CaseFileError:
    """The error of a case file that is damaged or truncated, naming the backup if there is one."""
    message = f"case file {path.name} is damaged or truncated ({detail}); nothing was changed"
    if backup_path(path).is_file():
        message += f" (the backup {backup_path(path).name} may hold the previous version)"
    return CaseFileError(message)


def json_bytes(value: Any) -> bytes:
    """``value`` as UTF-8 JSON; numpy scalars and arrays, tuples and paths become plain JSON.

    Raises
    ------
    OutputError
        When ``value`` holds something JSON cannot represent.
    """
    try:
        text = json.dumps(value, indent=1, ensure_ascii=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise OutputError(f"cannot save the case: {exc}") from exc
    return text.encode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be saved in a case file")


class _HashingWriter:
    """A write-only stream that forwards to ``raw`` and hashes what goes through."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._raw.write(data)


class ArchiveWriter:
    """Writes members into an open zip archive and records each one's size and SHA-256.

    Attributes
    ----------
    content : list of dict
        ``{"name", "size", "sha256"}`` of every member written, in order (the manifest's
        ``content`` list).
    """

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self.content: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[_HashingWriter]:
        """A stream writing member ``name`` (zip64 so members may exceed 4 GiB)."""
        with self._archive.open(name, "w", force_zip64=True) as raw:
            writer = _HashingWriter(raw)
            yield writer
        self.content.append({"name": name, "size": writer.size,
                             "sha256": writer.sha256.hexdigest()})

    def put_bytes(self, name: str, data: bytes) -> None:
        with self.open(name) as out:
            out.write(data)

    def put_json(self, name: str, value: Any) -> None:
        self.put_bytes(name, json_bytes(value))

    def put_array(self, name: str, array: np.ndarray) -> None:
        """One array as ``.npy`` (streamed in chunks; dtype, shape and bytes kept exactly)."""
        with self.open(name) as out:
            np.save(out, np.asarray(array), allow_pickle=False)

    def put_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Several small arrays as one uncompressed ``.npz`` (the zip deflates it)."""
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        self.put_bytes(name, buffer.getvalue())


class Members:
    """The members of an open case archive, checked against their SHA-256 when read.

    Parameters
    ----------
    archive : zipfile.ZipFile
        The open archive.
    path : Path
        Its file (for error messages).
    hashes : dict
        Expected SHA-256 (hex) by stored member name; members without one are checked by the
        zip CRC only (files of schema 0 had no hashes).

    Migrations change the view, never the file: :meth:`rename` gives a stored member a new
    name, :meth:`put` and :meth:`derive` add members made in memory (``derive`` lazily, so a
    fast reader such as ``case_info`` never pays for members it does not read).
    """

    def __init__(self, archive: zipfile.ZipFile, path: Path, hashes: dict[str, str]) -> None:
        self._archive = archive
        self._path = path
        self._hashes = dict(hashes)
        self._stored = {name: name for name in archive.namelist()}
        self._made: dict[str, Callable[[], bytes]] = {}
        self._verified: set[str] = set()
        self.read_log: list[str] = []
        """Stored members read so far, in order (lets tests prove what a reader touched)."""

    def __contains__(self, name: str) -> bool:
        return name in self._stored or name in self._made

    def names(self) -> list[str]:
        return sorted(set(self._stored) | set(self._made))

    def rename(self, old: str, new: str) -> None:
        """Give member ``old`` the name ``new``."""
        if old in self._made:
            self._made[new] = self._made.pop(old)
        elif old in self._stored:
            self._stored[new] = self._stored.pop(old)
        else:
            raise self._missing(old)

    def put(self, name: str, data: bytes) -> None:
        self.derive(name, lambda: data)

    def derive(self, name: str, producer: Callable[[], bytes]) -> None:
        """Add member ``name`` whose bytes ``producer()`` makes when it is first read."""
        self._stored.pop(name, None)
        self._made[name] = producer

    def remove(self, name: str) -> None:
        self._stored.pop(name, None)
        self._made.pop(name, None)

    def read(self, name: str) -> bytearray:
        """The bytes of member ``name`` (checked); :class:`CaseFileError` if absent or damaged."""
        if name in self._made:
            return bytearray(self._made[name]())
        if name not in self._stored:
            raise self._missing(name)
        return self._read_stored(self._stored[name])

    def json(self, name: str) -> Any:
        try:
            return json.loads(bytes(self.read(name)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise damaged(self._path, f"member {name} is not valid JSON: {exc}") from exc

    def array(self, name: str) -> np.ndarray:
        """A ``.npy`` member as a writable array sharing the bytes read (no second copy)."""
        data = self.read(name)
        try:
            return _npy_from_buffer(data)
        except ValueError as exc:
            raise damaged(self._path, f"member {name} is not a valid array: {exc}") from exc

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        """The arrays of a ``.npz`` member, by key."""
        try:
            with np.load(io.BytesIO(self.read(name)), allow_pickle=False) as npz:
                return {key: npz[key] for key in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise damaged(self._path, f"member {name} is not a valid array set: {exc}") from exc

    def verify_all(self) -> None:
        """Check every member that has a SHA-256 and was not read yet."""
        missing = sorted(set(self._hashes) - set(self._archive.namelist()))
        if missing:
            raise damaged(self._path, f"member {missing[0]} is missing")
        for stored in self._hashes:
            if stored not in self._verified:
                self._read_stored(stored, keep=False)

    def _missing(self, name: str) -> CaseFileError:
        return damaged(self._path, f"member {name} is missing")

    def _read_stored(self, stored: str, *, keep: bool = True) -> bytearray:
        self.read_log.append(stored)
        try:
            info = self._archive.getinfo(stored)
            with self._archive.open(info) as handle:
                data, digest = _read_fully(handle, info.file_size, keep=keep)
        except _ZIP_ERRORS as exc:
            raise damaged(self._path, f"member {stored}: {exc}") from exc
        expected = self._hashes.get(stored)
        if expected is not None and digest != expected:
            raise damaged(self._path, f"member {stored} fails its SHA-256 checksum")
        self._verified.add(stored)
        return data


def _read_fully(handle: BinaryIO, size: int, *, keep: bool) -> tuple[bytearray, str]:
    """Read exactly ``size`` bytes (then EOF, which makes zipfile check the CRC) and hash them."""
    data = bytearray(size if keep else min(size, _CHUNK))
    view = memoryview(data)
    sha, done = hashlib.sha256(), 0
    while done < size:
        want = min(_CHUNK, size - done)
        target = view[done:done + want] if keep else view[:want]
        got = handle.readinto(target)
        if not got:
            raise EOFError(f"ended after {done} of {size} bytes")
        sha.update(target[:got])
        done += got
    if handle.read(1):
        raise EOFError(f"holds more than the {size} bytes recorded")
    view.release()
    return (data if keep else bytearray()), sha.hexdigest()


def _npy_from_buffer(data: bytearray) -> np.ndarray:
    header = io.BytesIO(memoryview(data)[:_CHUNK].tobytes())
    version = np.lib.format.read_magic(header)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
    else:
        return np.load(io.BytesIO(data), allow_pickle=False)
    if dtype.hasobject:
        raise ValueError("object arrays are not allowed")
    count = int(np.prod(shape, dtype=np.int64))
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=header.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


# --- atomic replacement ---------------------------------------------------------------------------

def replace_atomically(target: Path, write: Callable[[IO[bytes]], None], *,
                       keep_backup: bool) -> None:
    """Write ``target`` through ``write(stream)`` so that it is never seen half written.

    1. ``write`` fills a new hidden file ``.<name>.<random>.tmp`` in the target's folder, which
       is then fsynced. A kill here leaves the target as it was (plus a stray temporary).
    2. With ``keep_backup``, ``<name>.bak`` becomes the current target: a hard link (or a copy
       where links are not supported) made under a temporary name, then renamed. The target is
       not touched; the backup is always a whole file (old backup or current target).
    3. :func:`os.replace` renames the temporary over the target: atomic within one folder, so
       the target is the complete old file before and the complete new file after.
    4. The folder is fsynced so the rename survives a power cut.

    Raises
    ------
    OutputError
        When the folder is missing or not writable or the disk is full; the target is then
        untouched and the temporary removed. Errors raised by ``write`` also remove it.
    """
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot save {target}: folder {folder} does not exist")
    if target.is_dir():
        raise OutputError(f"cannot save {target}: it is a folder")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX,
                                        dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if keep_backup and target.is_file():
            _keep_backup(target)
        os.replace(temporary, target)
        _fsync_folder(folder)
    except OSError as exc:
        raise OutputError(f"cannot save {target}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def _keep_backup(target: Path) -> None:
    """Make ``<target>.bak`` the current (complete) target: a hard link, or a copy where links
    are not supported, staged under a temporary name and renamed so the backup is whole too."""
    backup = backup_path(target)
    staging = backup.with_name(f".{backup.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
    try:
        try:
            os.link(target, staging)
        except OSError:
            shutil.copyfile(target, staging)
            with open(staging, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(staging, backup)
    finally:
        staging.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (not possible on every platform, e.g. Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
