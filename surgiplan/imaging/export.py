"""Write a :class:`Volume` as NIfTI or NRRD that 3D Slicer places correctly."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np

from surgiplan.errors import OutputError
from surgiplan.imaging.volume import Volume
from surgiplan.io import atomic_path

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd")


def volume_suffix(path: str | os.PathLike[str]) -> str:
    """The volume format suffix of ``path``, or raise :class:`OutputError` naming the choices."""
    name = str(path).lower()
    for suffix in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise OutputError(
        f"unsupported output format for {path}: use a name ending in .nii, .nii.gz or .nrrd"
    )


def nifti_image(voxels_kji: np.ndarray, affine_lps: np.ndarray) -> nib.Nifti1Image:
    """NIfTI-1 image with the standard RAS affine (qform and sform, scanner space, mm).

    ``voxels_kji`` is indexed [k, j, i]; NIfTI stores i fastest, hence the transpose.
    """
    affine_ras = LPS_TO_RAS @ affine_lps
    image = nib.Nifti1Image(np.asarray(voxels_kji).transpose(2, 1, 0), affine_ras)
    image.set_qform(affine_ras, code=1)
    image.set_sform(affine_ras, code=1)
    image.header.set_xyzt_units(xyz="mm")
    return image


def write_nifti(volume: Volume, path: str | os.PathLike[str]) -> Path:
    """Write ``volume`` to ``.nii`` or ``.nii.gz`` atomically; return the path written."""
    with atomic_path(path) as temporary:
        nib.save(nifti_image(volume.voxels, volume.affine_lps), temporary)
    return Path(path)


def write_nrrd(volume: Volume, path: str | os.PathLike[str]) -> Path:
    """Write ``volume`` to ``.nrrd`` (LPS space, gzip) atomically; return the path written."""
    header = {
        "space": "left-posterior-superior",
        "space directions": volume.affine_lps[:3, :3].T.copy(),
        "space origin": volume.affine_lps[:3, 3].copy(),
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
    }
    with atomic_path(path) as temporary:
        nrrd.write(str(temporary), np.asarray(volume.voxels).transpose(2, 1, 0), header,
                   index_order="F")
    return Path(path)


def write_volume(volume: Volume, path: str | os.PathLike[str]) -> Path:
    """Write ``volume`` in the format named by the suffix (.nii, .nii.gz, .nrrd)."""
    suffix = volume_suffix(path)
    if suffix == ".nrrd":
        return write_nrrd(volume, path)
    try:
        return write_nifti(volume, path)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
