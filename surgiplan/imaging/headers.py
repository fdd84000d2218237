"""Header-only reading of one DICOM file into image references.

A file becomes one :class:`ImageRef` per 2D image it holds (one for a classic file, one per frame
for an enhanced multi-frame file), or a :class:`SkippedFile` with the reason it cannot be used.
Pixel data is never decoded here: for native (uncompressed) syntaxes the byte offset of the pixel
values is recorded so the loader can read them straight into the volume.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from surgiplan.imaging.enhanced import frame_geometries
from surgiplan.imaging.raw_fields import RawFields

NATIVE_SYNTAXES = {ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian}
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class SkippedFile:
    """A file that is not used, with the reason in a user's words."""

    path: str
    reason: str


@dataclass(frozen=True)
class ImageRef:
    """Everything the scan needs to know about one 2D image, without its pixels.

    Geometry is in patient LPS millimetres: ``position_lps_mm`` is the centre of the first
    transmitted pixel, ``orientation`` the row then column direction cosines (6 floats),
    ``pixel_spacing_mm`` is (row spacing, column spacing) as in DICOM PixelSpacing.
    """

    path: str
    frame: int | None
    transfer_syntax: str
    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_uid: str | None
    series_uid: str | None
    series_number: int | None
    series_description: str
    modality: str
    frame_of_reference_uid: str | None
    rows: int
    columns: int
    number_of_frames: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    rescale_slope: float
    rescale_intercept: float
    pixel_spacing_mm: tuple[float, float] | None
    orientation: tuple[float, ...] | None
    position_lps_mm: tuple[float, float, float] | None
    slice_thickness_mm: float | None
    instance_number: int | None
    acquisition_number: int | None
    echo_number: int | None
    temporal_position: int | None
    trigger_time: float | None
    image_type: tuple[str, ...]
    gantry_tilt_deg: float | None
    pixel_offset: int | None


def _base_ref(path: str, ds: Dataset, pixel_offset: int | None) -> ImageRef:
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian))
    f = RawFields(ds, big_endian=syntax == ExplicitVRBigEndian)
    bits_allocated = f.ushort(0x00280100, 16)
    return ImageRef(
        path=path,
        frame=None,
        transfer_syntax=syntax,
        sop_class_uid=f.text(0x00080016),
        sop_instance_uid=f.text(0x00080018),
        study_uid=f.text(0x0020000D),
        series_uid=f.text(0x0020000E),
        series_number=f.number(0x00200011, int),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        modality=f.text(0x00080060) or "OT",
        frame_of_reference_uid=f.text(0x00200052),
        rows=f.ushort(0x00280010),
        columns=f.ushort(0x00280011),
        number_of_frames=f.number(0x00280008, int, 1) or 1,
        bits_allocated=bits_allocated,
        bits_stored=f.ushort(0x00280101, bits_allocated),
        pixel_representation=f.ushort(0x00280103, 0),
        samples_per_pixel=f.ushort(0x00280002, 1),
        photometric=f.text(0x00280004) or "MONOCHROME2",
        rescale_slope=f.number(0x00281053, float, 1.0),
        rescale_intercept=f.number(0x00281052, float, 0.0),
        pixel_spacing_mm=f.floats(0x00280030, 2) or f.floats(0x00181164, 2),
        orientation=f.floats(0x00200037, 6),
        position_lps_mm=f.floats(0x00200032, 3),
        slice_thickness_mm=f.number(0x00180050, float),
        instance_number=f.number(0x00200013, int),
        acquisition_number=f.number(0x00200012, int),
        echo_number=f.number(0x00180086, int),
        temporal_position=f.number(0x00200100, int),
        trigger_time=f.number(0x00181060, float),
        image_type=tuple(v.upper() for v in f.texts(0x00080008)),
        gantry_tilt_deg=f.number(0x00181120, float),
        pixel_offset=pixel_offset,
    )


def _pixel_value_offset(fp, file_size: int, ref: ImageRef) -> tuple[int | None, str | None]:
    """Locate the pixel values after a header-only read stopped at (7FE0,0010).

    Returns ``(offset, problem)``: the byte offset of the first pixel value for native
    syntaxes (``None`` for encapsulated data), or a reason when the file is unusable.
    """
    start = fp.tell()
    header = fp.read(12)
    if len(header) < 8 or header[:4] not in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):
        return None, "no pixel data"
    syntax = ref.transfer_syntax
    big = syntax == ExplicitVRBigEndian
    explicit = syntax != ImplicitVRLittleEndian
    if explicit and header[4:6] in (b"OB", b"OW", b"UN", b"OD", b"OF", b"OL", b"OV"):
        if len(header) < 12:
            return None, "truncated (pixel data header cut off)"
        length = struct.unpack(">I" if big else "<I", header[8:12])[0]
        value_offset = start + 12
    elif explicit:
        length = struct.unpack(">H" if big else "<H", header[6:8])[0]
        value_offset = start + 8
    else:
        length = struct.unpack("<I", header[4:8])[0]
        value_offset = start + 8
    if length == _UNDEFINED_LENGTH:
        if file_size - value_offset < 16:
            return None, "truncated (compressed pixel data cut off)"
        return None, None
    expected = _expected_bytes(ref)
    if value_offset + min(length, expected) > file_size or length < expected:
        return None, "truncated (pixel data shorter than the image size)"
    return value_offset, None


def _expected_bytes(ref: ImageRef) -> int:
    bits = ref.rows * ref.columns * ref.number_of_frames * ref.samples_per_pixel
    return (bits * ref.bits_allocated + 7) // 8


def _open_dataset(path: str, fp) -> Dataset:
    try:
        return pydicom.dcmread(fp, stop_before_pixels=True)
    except InvalidDicomError:
        fp.seek(0)
        ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
        if "Rows" not in ds and "SOPClassUID" not in ds and "StudyInstanceUID" not in ds:
            raise
        if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta = pydicom.dataset.FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        return ds


def read_image_refs(path: str) -> list[ImageRef] | SkippedFile:
    """Read one file's header and describe its images.

    Parameters
    ----------
    path : str
        Any file; it need not have an extension or be DICOM at all.

    Returns
    -------
    list of ImageRef or SkippedFile
        One reference per 2D image (per frame for multi-frame files), or why the file is unused.
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            return SkippedFile(path, "empty file")
        with open(path, "rb") as fp:
            ds = _open_dataset(path, fp)
            return _refs_from_dataset(path, fp, size, ds)
    except InvalidDicomError:
        return SkippedFile(path, "not DICOM")
    except PermissionError:
        return SkippedFile(path, "unreadable (permission denied)")
    except (EOFError, OSError, struct.error) as exc:
        return SkippedFile(path, f"truncated or unreadable ({type(exc).__name__})")
    except Exception as exc:  # noqa: BLE001 - junk files must never stop a scan
        return SkippedFile(path, f"not DICOM or damaged header ({type(exc).__name__})")


def _refs_from_dataset(path: str, fp, size: int, ds: Dataset) -> list[ImageRef] | SkippedFile:
    media_class = str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
    if media_class == DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
        return SkippedFile(path, "DICOMDIR index (the files it lists are scanned directly)")
    if "Rows" not in ds or "Columns" not in ds:
        return SkippedFile(path, "no pixel data (not an image)")
    base = _base_ref(path, ds, None)
    if base.rows is None or base.columns is None:
        return SkippedFile(path, "no pixel data (not an image)")
    offset, problem = _pixel_value_offset(fp, size, base)
    if problem:
        return SkippedFile(path, problem)
    if base.samples_per_pixel != 1:
        return SkippedFile(path, "unsupported: colour image (volumes need one sample per pixel)")
    if base.transfer_syntax != DeflatedExplicitVRLittleEndian:
        base = replace(base, pixel_offset=offset)
    if base.number_of_frames <= 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        return [base]
    return _frame_refs(base, ds)


def _or(value, fallback):
    return fallback if value is None else value


def _frame_refs(base: ImageRef, ds: Dataset) -> list[ImageRef]:
    frame_bytes = base.rows * base.columns * base.bits_allocated // 8
    refs = []
    for index, geometry in enumerate(frame_geometries(ds, base.number_of_frames)):
        offset = None if base.pixel_offset is None else base.pixel_offset + index * frame_bytes
        refs.append(
            replace(
                base,
                frame=index,
                pixel_offset=offset,
                orientation=geometry.orientation or base.orientation,
                position_lps_mm=geometry.position_lps_mm or base.position_lps_mm,
                pixel_spacing_mm=geometry.pixel_spacing_mm or base.pixel_spacing_mm,
                slice_thickness_mm=geometry.slice_thickness_mm or base.slice_thickness_mm,
                rescale_slope=_or(geometry.rescale_slope, base.rescale_slope),
                rescale_intercept=_or(geometry.rescale_intercept, base.rescale_intercept),
                temporal_position=_or(geometry.temporal_position, base.temporal_position),
                echo_number=geometry.echo_number or base.echo_number,
                trigger_time=_or(geometry.trigger_time, base.trigger_time),
                acquisition_number=_or(geometry.stack_id, base.acquisition_number),
            )
        )
    return refs
