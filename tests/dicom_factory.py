"""Write DICOM series with known geometry for tests.

Pixel values are computed from each pixel's patient (LPS mm) position, so a sphere placed at a
known centre must come out of the import at that centre whatever the orientation, slice order,
tilt or file naming.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


@dataclass
class Sphere:
    centre_lps_mm: tuple[float, float, float]
    radius_mm: float
    value: float = 1000.0


@dataclass
class SeriesSpec:
    """Geometry and content of a synthetic series.

    ``offsets_mm`` are the slice origins' distances from ``origin_lps_mm`` along ``stack_dir``
    (the slice normal unless a tilt is wanted).
    """

    rows: int = 48
    columns: int = 40
    offsets_mm: Sequence[float] = tuple(float(v) for v in np.arange(30) * 2.0)
    pixel_spacing_mm: tuple[float, float] = (1.5, 1.25)  # (row spacing, column spacing)
    row_dir: tuple[float, float, float] = (1.0, 0.0, 0.0)
    col_dir: tuple[float, float, float] = (0.0, 1.0, 0.0)
    stack_dir: tuple[float, float, float] | None = None
    origin_lps_mm: tuple[float, float, float] = (-25.0, -30.0, -20.0)
    spheres: list[Sphere] = field(default_factory=lambda: [Sphere((0.0, 0.0, 10.0), 12.0)])
    background: float = -1000.0
    modality: str = "CT"
    slope: float = 1.0
    intercept: float = -1024.0
    signed: bool = False
    bits_stored: int = 16
    photometric: str = "MONOCHROME2"
    series_uid: str | None = field(default_factory=generate_uid)
    study_uid: str | None = field(default_factory=generate_uid)
    sop_class: str | None = CTImageStorage
    series_number: int = 3
    description: str = "test series"
    patient_name: str = "Doe^Jane"
    extra: dict = field(default_factory=dict)

    def normal(self) -> np.ndarray:
        normal = np.cross(self.row_dir, self.col_dir)
        return normal / np.linalg.norm(normal)

    def slice_origin(self, k: int) -> np.ndarray:
        direction = self.normal() if self.stack_dir is None else np.asarray(self.stack_dir)
        direction = direction / np.linalg.norm(direction)
        return np.asarray(self.origin_lps_mm) + self.offsets_mm[k] * direction


def pixel_positions(spec: SeriesSpec, k: int) -> np.ndarray:
    """(rows, columns, 3) LPS mm of every pixel centre of slice ``k``."""
    rows = np.arange(spec.rows)[:, None, None]
    cols = np.arange(spec.columns)[None, :, None]
    row_sp, col_sp = spec.pixel_spacing_mm
    return (spec.slice_origin(k)[None, None, :]
            + cols * col_sp * np.asarray(spec.row_dir)[None, None, :]
            + rows * row_sp * np.asarray(spec.col_dir)[None, None, :])


def modality_values(spec: SeriesSpec, k: int) -> np.ndarray:
    """Ground-truth modality values (rows, columns) of slice ``k``."""
    points = pixel_positions(spec, k)
    values = np.full((spec.rows, spec.columns), spec.background, dtype=float)
    for sphere in spec.spheres:
        distance_mm = np.linalg.norm(points - np.asarray(sphere.centre_lps_mm), axis=2)
        values[distance_mm <= sphere.radius_mm] = sphere.value
    return values


def stored_values(spec: SeriesSpec, k: int) -> np.ndarray:
    stored = np.round((modality_values(spec, k) - spec.intercept) / spec.slope)
    if spec.photometric == "MONOCHROME1" and spec.slope == 1 and spec.intercept == 0:
        stored = (2 ** spec.bits_stored - 1) - stored
    return stored.astype(np.int16 if spec.signed else np.uint16)


def slice_dataset(spec: SeriesSpec, k: int) -> Dataset:
    """A complete single-frame dataset for slice ``k`` (uncompressed)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop_uid = generate_uid()
    if spec.sop_class:
        ds.file_meta.MediaStorageSOPClassUID = spec.sop_class
        ds.SOPClassUID = spec.sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = spec.patient_name
    ds.PatientID = "ID-12345"
    ds.PatientBirthDate = "19700101"
    ds.AccessionNumber = "ACC-999"
    if spec.study_uid:
        ds.StudyInstanceUID = spec.study_uid
    if spec.series_uid:
        ds.SeriesInstanceUID = spec.series_uid
    ds.FrameOfReferenceUID = "1.2.3.4.5"
    ds.Modality = spec.modality
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.InstanceNumber = k + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [f"{v:.6f}" for v in spec.slice_origin(k)]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*spec.row_dir, *spec.col_dir)]
    ds.PixelSpacing = [f"{v:.6f}" for v in spec.pixel_spacing_mm]
    ds.SliceThickness = "2.0"
    ds.Rows, ds.Columns = spec.rows, spec.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = spec.photometric
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = int(spec.signed)
    ds.RescaleSlope = f"{spec.slope:g}"
    ds.RescaleIntercept = f"{spec.intercept:g}"
    for keyword, value in spec.extra.items():
        setattr(ds, keyword, value(k) if callable(value) else value)
    ds.PixelData = stored_values(spec, k).tobytes()
    return ds


def write_series(folder: Path, spec: SeriesSpec, *, syntax: str | None = None,
                 names: str = "shuffled", seed: int = 0) -> list[Path]:
    """Write ``spec`` into ``folder`` (created) and return the file paths.

    ``names``: ``"shuffled"`` gives extension-less random names unrelated to slice order,
    ``"ordered"`` gives ``IM0001.dcm``...
    """
    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(len(spec.offsets_mm)))
    rng = random.Random(seed)
    if names == "shuffled":
        rng.shuffle(order)
    paths = []
    for position, k in enumerate(order):
        ds = slice_dataset(spec, k)
        if syntax is not None and syntax != ExplicitVRLittleEndian:
            ds.compress(syntax, stored_values(spec, k), generate_instance_uid=False)
        name = f"{rng.getrandbits(48):012x}" if names == "shuffled" else f"IM{position + 1:04d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=spec.sop_class is not None)
        paths.append(path)
    return paths


def sphere_centroid_lps(volume, threshold: float) -> np.ndarray:
    """Centroid (3,) in LPS mm of voxels above ``threshold`` in an imported volume."""
    k, j, i = np.nonzero(np.asarray(volume.voxels) > threshold)
    return volume.ijk_to_lps(np.stack([i, j, k], axis=1).astype(float)).mean(axis=0)


def rotation(axis: Sequence[float], angle_deg: float) -> np.ndarray:
    """3x3 rotation matrix about ``axis`` by ``angle_deg``."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * cross + (1 - np.cos(a)) * cross @ cross


def write_raw(path: Path, ds: Dataset) -> Path:
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path
