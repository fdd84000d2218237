"""Read volumes saved as NIfTI or NRRD (by SurgiPlan, 3D Slicer, TotalSegmentator...)."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np

from surgiplan.errors import InputError
from surgiplan.imaging.export import LPS_TO_RAS, volume_suffix
from surgiplan.imaging.volume import Volume

_SPACES_TO_LPS = {
    "left-posterior-superior": np.array([1.0, 1.0, 1.0]),
    "lps": np.array([1.0, 1.0, 1.0]),
    "right-anterior-superior": np.array([-1.0, -1.0, 1.0]),
    "ras": np.array([-1.0, -1.0, 1.0]),
}
CT_AIR_LIMIT_HU = -500.0


def _guess_modality(voxels: np.ndarray) -> str:
    sample = np.asarray(voxels).ravel()[:: max(1, voxels.size // 100_000)]
    return "CT" if sample.size and float(sample.min()) < CT_AIR_LIMIT_HU else "OT"


def _as_volume(data_ijk: np.ndarray, affine_lps: np.ndarray, path: Path) -> Volume:
    if data_ijk.ndim == 4 and data_ijk.shape[3] == 1:
        data_ijk = data_ijk[..., 0]
    if data_ijk.ndim != 3:
        raise InputError(f"{path.name} holds a {data_ijk.ndim}-D image: a 3-D volume is needed "
                         "(split time series or channels first)")
    kind = data_ijk.dtype
    if not np.issubdtype(kind, np.number) or np.issubdtype(kind, np.complexfloating):
        raise InputError(f"{path.name} does not hold real-valued voxels")
    voxels = np.ascontiguousarray(data_ijk.transpose(2, 1, 0))
    if voxels.dtype not in (np.int16, np.float32):
        exact = np.issubdtype(voxels.dtype, np.integer) and voxels.size and (
            voxels.min() >= -32768 and voxels.max() <= 32767)
        voxels = voxels.astype(np.int16 if exact else np.float32)
    if abs(np.linalg.det(affine_lps[:3, :3])) < 1e-12:
        raise InputError(f"{path.name} has a degenerate (zero-size) voxel geometry")
    return Volume(voxels, affine_lps, _guess_modality(voxels),
                  metadata={"source_file": path.name})


def _read_nifti(path: Path) -> Volume:
    image = nib.load(str(path))
    scaled = image.dataobj.slope not in (None, 1.0) or image.dataobj.inter not in (None, 0.0)
    data = np.asanyarray(image.dataobj) if not scaled else image.get_fdata(dtype=np.float32)
    return _as_volume(np.asarray(data), LPS_TO_RAS @ image.affine, path)


def _read_nrrd(path: Path) -> Volume:
    data, header = nrrd.read(str(path), index_order="F")
    space = str(header.get("space", "left-posterior-superior")).lower()
    if space not in _SPACES_TO_LPS:
        raise InputError(f"{path.name} uses NRRD space '{space}': only LPS or RAS volumes can "
                         "be placed in patient coordinates")
    directions = np.asarray(header.get("space directions"), dtype=float)
    directions = directions[~np.isnan(directions).any(axis=1)]
    affine = np.eye(4)
    affine[:3, :3] = directions.T
    affine[:3, 3] = np.asarray(header.get("space origin", np.zeros(3)), dtype=float)
    flip = np.diag([*_SPACES_TO_LPS[space], 1.0])
    return _as_volume(data, flip @ affine, path)


def read_volume(path: str | os.PathLike[str]) -> Volume:
    """Read a 3-D volume from ``.nii``, ``.nii.gz`` or ``.nrrd`` into patient LPS millimetres.

    Raises
    ------
    InputError
        When the file is missing, unreadable, not 3-D or of an unknown format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path} (check the path)")
    try:
        suffix = volume_suffix(path)
    except Exception as exc:
        raise InputError(f"unsupported volume format for {path.name}: use .nii, .nii.gz, "
                         ".nrrd or a DICOM folder") from exc
    try:
        return _read_nrrd(path) if suffix == ".nrrd" else _read_nifti(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise InputError(f"cannot read {path.name}: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160] if str(exc) else 'damaged file'}"
                         ) from exc
