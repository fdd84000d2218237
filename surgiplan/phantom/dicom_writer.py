"""Write a HU volume as a DICOM CT Image Storage series (one file per axial slice).

Every file carries complete Patient, General Study, General Series, Frame of Reference,
General Equipment, General Image, Image Plane, Image Pixel, CT Image and SOP Common
modules. Pixels are signed int16 HU (``RescaleSlope`` 1, ``RescaleIntercept`` 0) encoded
JPEG 2000 lossless. All UIDs derive from the seed and all dates and times are fixed, so
the same seed writes byte-identical files.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, JPEG2000Lossless

from surgiplan.phantom.grid import PhantomGrid

TRANSFER_SYNTAX = JPEG2000Lossless
PATIENT_NAME = "Phantom^Abdomen"
PATIENT_ID = "SP-PHANTOM-001"
SERIES_DESCRIPTION = "SurgiPlan abdominal phantom"
STUDY_DATE = "20261126"
STUDY_TIME = "090000"


def derived_uid(*parts: object) -> UID:
    """Deterministic ``2.25.<int>`` UID from a name-based (version 5) UUID of ``parts``.

    ``pydicom.uid.generate_uid(prefix=None)`` ignores its entropy sources and is random,
    hence this helper.
    """
    name = "/".join(["surgiplan.phantom", *(str(p) for p in parts)])
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}")


#: ImplementationClassUID of the phantom generator (constant, not seed dependent).
IMPLEMENTATION_CLASS_UID = derived_uid("implementation")
IMPLEMENTATION_VERSION_NAME = "SURGIPLAN_010"


@dataclass(frozen=True)
class SeriesUIDs:
    """UIDs shared by all slices of the phantom series."""

    study: str
    series: str
    frame_of_reference: str
    seed: int

    @classmethod
    def from_seed(cls, seed: int) -> SeriesUIDs:
        """Deterministic UIDs (``2.25.<int>`` form) derived from the seed."""
        kinds = ("study", "series", "frame_of_reference")
        return cls(*(derived_uid(seed, kind) for kind in kinds), seed)

    def sop_instance(self, index: int) -> str:
        """SOPInstanceUID of slice ``index`` (0-based)."""
        return derived_uid(self.seed, "sop", index)


def _ds(v: float) -> str:
    """Format a number for a Decimal String element (at most 16 characters)."""
    return f"{v:.6g}"


def _patient_study_series(ds: Dataset, uids: SeriesUIDs) -> None:
    """Patient, General Study, General Series, Frame of Reference, Equipment modules."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = uids.study
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = STUDY_TIME
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.AccessionNumber = "SPACC0001"
    ds.StudyDescription = "Synthetic abdominal CT phantom"
    ds.Modality = "CT"
    ds.SeriesInstanceUID = uids.series
    ds.SeriesNumber = 1
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "ABDOMEN"
    ds.FrameOfReferenceUID = uids.frame_of_reference
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "SurgiPlan"
    ds.ManufacturerModelName = "phantom generator"
    ds.SoftwareVersions = "surgiplan.phantom 1"


def _image_modules(ds: Dataset, grid: PhantomGrid, k: int) -> None:
    """General Image, Image Plane, Image Pixel and CT Image modules of slice ``k``."""
    dx, dy, dz = grid.spacing_mm
    x0, y0, z0 = grid.origin_lps_mm
    z = z0 + k * dz
    ds.InstanceNumber = k + 1
    ds.AcquisitionNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.BurnedInAnnotation = "NO"
    ds.PixelSpacing = [_ds(dy), _ds(dx)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [_ds(x0), _ds(y0), _ds(z)]
    ds.SliceThickness = _ds(dz)
    ds.SpacingBetweenSlices = _ds(dz)
    ds.SliceLocation = _ds(z)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = grid.shape_kji[1], grid.shape_kji[2]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.KVP = 120
    ds.ReconstructionDiameter = _ds(grid.shape_kji[2] * dx)
    ds.ConvolutionKernel = "STANDARD"
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400


def slice_dataset(pixels: np.ndarray, grid: PhantomGrid, k: int, uids: SeriesUIDs) -> Dataset:
    """Build the encoded DICOM dataset of one axial slice.

    Parameters
    ----------
    pixels : numpy.ndarray
        int16 HU image of slice ``k``, shape ``(nj, ni)`` = (rows, columns).
    grid : PhantomGrid
        Volume grid (gives pixel spacing and the LPS position of the first pixel).
    k : int
        0-based slice index (inferior to superior).
    uids : SeriesUIDs
        Series-wide UIDs.

    Returns
    -------
    pydicom.dataset.Dataset
        Dataset with file meta, pixel data compressed with :data:`TRANSFER_SYNTAX`.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uids.sop_instance(k)
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uids.sop_instance(k)
    _patient_study_series(ds, uids)
    _image_modules(ds, grid, k)
    pixels = np.ascontiguousarray(pixels, dtype=np.int16)
    ds.compress(TRANSFER_SYNTAX, pixels, generate_instance_uid=False)
    return ds


def write_series(hu: np.ndarray, grid: PhantomGrid, out_dir: Path, seed: int) -> list[Path]:
    """Write a volume as ``IM0001.dcm``, ``IM0002.dcm``, ... (slice k -> ``IM{k+1:04d}``).

    Stale ``IM*.dcm`` files already in ``out_dir`` are removed first.

    Parameters
    ----------
    hu : numpy.ndarray
        int16 HU volume, shape ``grid.shape_kji`` indexed ``[k, j, i]``.
    grid : PhantomGrid
        Grid of ``hu``.
    out_dir : pathlib.Path
        Target folder, created if missing.
    seed : int
        Seed the UIDs derive from.

    Returns
    -------
    list of pathlib.Path
        Written files in slice order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("IM*.dcm"):
        stale.unlink()
    uids = SeriesUIDs.from_seed(seed)
    paths = []
    for k in range(hu.shape[0]):
        path = out_dir / f"IM{k + 1:04d}.dcm"
        slice_dataset(hu[k], grid, k, uids).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
