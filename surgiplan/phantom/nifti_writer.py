"""Write the phantom label map as NIfTI-1 (``labels.nii.gz``).

The in-memory map is indexed ``[k, j, i]``; the file stores it in ``(i, j, k)`` order
with a RAS affine (``diag(-1, -1, 1, 1) @ affine_lps``), qform and sform codes 1
(scanner), so NIfTI tools and DICOM patient coordinates agree.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from surgiplan.phantom.grid import PhantomGrid

#: Converts LPS to RAS (and back): negate x and y.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def write_label_map(labels: np.ndarray, grid: PhantomGrid, path: Path) -> None:
    """Save a label map as gzipped NIfTI-1.

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 labels, shape ``grid.shape_kji`` indexed ``[k, j, i]``.
    grid : PhantomGrid
        Grid of ``labels``; its LPS affine becomes the file's RAS affine.
    path : pathlib.Path
        Output file, normally ending ``.nii.gz``.
    """
    affine_ras = LPS_TO_RAS @ grid.affine_lps
    data = np.ascontiguousarray(labels.transpose(2, 1, 0), dtype=np.uint8)
    image = nib.Nifti1Image(data, affine_ras)
    image.set_qform(affine_ras, code=1)
    image.set_sform(affine_ras, code=1)
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = b"SurgiPlan phantom labels (see facts.json)"
    nib.save(image, str(path))


def read_label_map(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load a label map written by :func:`write_label_map`.

    Returns
    -------
    labels : numpy.ndarray
        uint8 labels, shape ``(nk, nj, ni)`` indexed ``[k, j, i]``.
    affine_lps : numpy.ndarray
        (4, 4) matrix mapping ``(i, j, k, 1)`` to LPS mm.
    """
    image = nib.load(str(path))
    labels = np.asarray(image.dataobj, dtype=np.uint8).transpose(2, 1, 0)
    return np.ascontiguousarray(labels), LPS_TO_RAS @ image.affine
