"""Header-only reading of one DICOM file into image references.

A file becomes one :class:`ImageRef` per 2D image it holds (one for a classic file, one per frame
for an enhanced multi-frame file), or a :class:`SkippedFile` with the reason it cannot be used.
Pixel data is never decoded here: for native (uncompressed) syntaxes the byte offset of the pixel
values is recorded so the loader can read them straight into the volume.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field, replace

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
    metadata: dict[str, str] = field(default_factory=dict, compare=False)


def _num(ds: Dataset, keyword: str, kind: type, default=None):
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, pydicom.multival.MultiValue):
            value = value[0]
        return kind(value)
    except (TypeError, ValueError):
        return default


def _floats(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    value = ds.get(keyword)
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == count else None


_METADATA_KEYWORDS = (
    "Manufacturer",
    "ManufacturerModelName",
    "BodyPartExamined",
    "ProtocolName",
    "ConvolutionKernel",
    "KVP",
    "MagneticFieldStrength",
    "ContrastBolusAgent",
    "StudyDescription",
    "SeriesDate",
)


def _metadata(ds: Dataset) -> dict[str, str]:
    out = {}
    for keyword in _METADATA_KEYWORDS:
        value = ds.get(keyword)
        if value not in (None, ""):
            out[keyword] = str(value)
    return out


def _base_ref(path: str, ds: Dataset, pixel_offset: int | None) -> ImageRef:
    image_type = ds.get("ImageType") or ()
    if isinstance(image_type, str):
        image_type = (image_type,)
    tilt = _num(ds, "GantryDetectorTilt", float)
    return ImageRef(
        path=path,
        frame=None,
        transfer_syntax=str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)),
        sop_class_uid=str(ds.SOPClassUID) if ds.get("SOPClassUID") else None,
        sop_instance_uid=str(ds.SOPInstanceUID) if ds.get("SOPInstanceUID") else None,
        study_uid=str(ds.StudyInstanceUID) if ds.get("StudyInstanceUID") else None,
        series_uid=str(ds.SeriesInstanceUID) if ds.get("SeriesInstanceUID") else None,
        series_number=_num(ds, "SeriesNumber", int),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        modality=str(ds.get("Modality", "") or "OT"),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or "") or None,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        number_of_frames=_num(ds, "NumberOfFrames", int, 1) or 1,
        bits_allocated=int(ds.get("BitsAllocated", 16)),
        bits_stored=int(ds.get("BitsStored", ds.get("BitsAllocated", 16))),
        pixel_representation=int(ds.get("PixelRepresentation", 0)),
        samples_per_pixel=int(ds.get("SamplesPerPixel", 1)),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        rescale_slope=_num(ds, "RescaleSlope", float, 1.0),
        rescale_intercept=_num(ds, "RescaleIntercept", float, 0.0),
        pixel_spacing_mm=_floats(ds, "PixelSpacing", 2) or _floats(ds, "ImagerPixelSpacing", 2),
        orientation=_floats(ds, "ImageOrientationPatient", 6),
        position_lps_mm=_floats(ds, "ImagePositionPatient", 3),
        slice_thickness_mm=_num(ds, "SliceThickness", float),
        instance_number=_num(ds, "InstanceNumber", int),
        acquisition_number=_num(ds, "AcquisitionNumber", int),
        echo_number=_num(ds, "EchoNumbers", int),
        temporal_position=_num(ds, "TemporalPositionIdentifier", int),
        trigger_time=_num(ds, "TriggerTime", float),
        image_type=tuple(str(v).upper() for v in image_type),
        gantry_tilt_deg=tilt,
        pixel_offset=pixel_offset,
        metadata=_metadata(ds),
    )


def _pixel_value_offset(fp, file_size: int, ds: Dataset) -> tuple[int | None, str | None]:
    """Locate the pixel values after a header-only read stopped at (7FE0,0010).

    Returns ``(offset, problem)``: the byte offset of the first pixel value for native
    syntaxes (``None`` for encapsulated data), or a reason when the file is unusable.
    """
    start = fp.tell()
    header = fp.read(12)
    if len(header) < 8 or header[:4] not in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):
        return None, "no pixel data"
    syntax = ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)
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
    expected = _expected_bytes(ds)
    if value_offset + min(length, expected) > file_size or length < expected:
        return None, "truncated (pixel data shorter than the image size)"
    return value_offset, None


def _expected_bytes(ds: Dataset) -> int:
    frames = _num(ds, "NumberOfFrames", int, 1) or 1
    samples = int(ds.get("SamplesPerPixel", 1))
    bits = int(ds.get("BitsAllocated", 16))
    return (int(ds.Rows) * int(ds.Columns) * frames * samples * bits + 7) // 8


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
    offset, problem = _pixel_value_offset(fp, size, ds)
    if problem:
        return SkippedFile(path, problem)
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian))
    if syntax == DeflatedExplicitVRLittleEndian:
        offset = None
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        return SkippedFile(path, "unsupported: colour image (volumes need one sample per pixel)")
    base = _base_ref(path, ds, offset)
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
