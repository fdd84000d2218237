"""Write a :class:`LabelMap` as NIfTI or NRRD that 3D Slicer lays over the scan it came from.

- ``.nii`` / ``.nii.gz``: integer voxels (uint8, or uint16 above label 255), the RAS affine
  ``LPS_TO_RAS @ affine_lps`` as qform and sform (code 1, scanner), intent "label".
- ``.nrrd`` (and ``.seg.nrrd``): LPS space, gzip, plus 3D Slicer's segmentation fields
  (``Segment{n}_Name``, ``_LabelValue``, ``_Color``, ``_Layer``, ``_Extent``, ...), so a file
  named ``*.seg.nrrd`` opens in Slicer as a segmentation with names and colours; a plain
  ``.nrrd`` opens as a volume (choose "LabelMap" in the Add Data dialog).
- :func:`write_colour_table`: a Slicer colour table (``.ctbl``: ``label name R G B A``) that
  gives names and colours to a NIfTI label map (load it, then pick it as the label map's
  colour node).
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
from scipy import ndimage

from surgiplan.errors import InputError, OutputError
from surgiplan.imaging.export import nifti_image
from surgiplan.io import atomic_path
from surgiplan.segmentation.labelmap import LabelMap

LABEL_SUFFIXES = (".nii", ".nii.gz", ".nrrd")
NIFTI_INTENT_LABEL = "label"


def label_suffix(path: str | os.PathLike[str]) -> str:
    """The label map format of ``path`` (``.seg.nrrd`` counts as ``.nrrd``)."""
    name = str(path).lower()
    for suffix in sorted(LABEL_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise OutputError(f"unsupported label map format for {path}: use a name ending in "
                      ".nii, .nii.gz, .nrrd or .seg.nrrd")


def write_label_map(labelmap: LabelMap, path: str | os.PathLike[str]) -> Path:
    """Write ``labelmap`` to NIfTI or NRRD (by suffix), atomically.

    Parameters
    ----------
    labelmap : LabelMap
        Labels ``(slices, rows, columns)`` indexed ``[k, j, i]`` and the LPS affine.
    path : path-like
        Ends in ``.nii``, ``.nii.gz``, ``.nrrd`` or ``.seg.nrrd``.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    OutputError
        Unknown suffix, or the folder is missing or not writable.
    InputError
        When the label map is not 3-D or its affine is not 4x4.
    """
    suffix = label_suffix(path)
    voxels = _label_voxels(labelmap)
    with atomic_path(path) as temporary:
        if suffix == ".nrrd":
            nrrd.write(str(temporary), voxels.transpose(2, 1, 0), _nrrd_header(labelmap),
                       index_order="F")
        else:
            image = nifti_image(voxels, labelmap.affine_lps)
            image.header.set_data_dtype(voxels.dtype)
            image.header.set_intent(NIFTI_INTENT_LABEL)
            nib.save(image, temporary)
    return Path(path)


def write_colour_table(labelmap: LabelMap, path: str | os.PathLike[str]) -> Path:
    """Write the structures' names and colours as a 3D Slicer colour table (``.ctbl``).

    One line per label: ``label name R G B A`` with 0..255 components; spaces in names become
    underscores; label 0 is ``Background`` and transparent.

    Returns
    -------
    Path
        The path written (atomically).
    """
    lines = ["# Color table file written by SurgiPlan",
             f"# {len(labelmap.structures) + 1} values", "0 Background 0 0 0 0"]
    for info in sorted(labelmap.structures, key=lambda s: s.label):
        red, green, blue = (int(round(255 * c)) for c in info.colour)
        lines.append(f"{info.label} {info.name.replace(' ', '_')} {red} {green} {blue} 255")
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    return Path(path)


def _label_voxels(labelmap: LabelMap) -> np.ndarray:
    """Labels ``[k, j, i]`` as uint8 when every label fits, else uint16."""
    labels = np.asarray(labelmap.labels)
    if labels.ndim != 3:
        raise InputError(f"a label map must be 3-D (slices, rows, columns), got {labels.shape}")
    if np.asarray(labelmap.affine_lps).shape != (4, 4):
        raise InputError("the label map's affine_lps must be 4x4")
    top = int(labels.max()) if labels.size else 0
    return labels.astype(np.uint8 if top <= 255 else np.uint16)


def _nrrd_header(labelmap: LabelMap) -> dict:
    """NRRD geometry (LPS) and 3D Slicer ``.seg.nrrd`` metadata fields."""
    affine = np.asarray(labelmap.affine_lps, dtype=float)
    header = {
        "space": "left-posterior-superior",
        "space directions": affine[:3, :3].T.copy(),
        "space origin": affine[:3, 3].copy(),
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
        "Segmentation_MasterRepresentation": "Binary labelmap",
        "Segmentation_SourceRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|",
        "Segmentation_ReferenceImageExtentOffset": "0 0 0",
    }
    extents = _extents(labelmap)
    for index, info in enumerate(labelmap.structures):
        key = f"Segment{index}_"
        header[key + "ID"] = f"Segment_{info.label}"
        header[key + "Name"] = " ".join(info.name.split())
        header[key + "NameAutoGenerated"] = "0"
        header[key + "Color"] = " ".join(f"{c:.6g}" for c in info.colour)
        header[key + "ColorAutoGenerated"] = "0"
        header[key + "LabelValue"] = str(info.label)
        header[key + "Layer"] = "0"
        header[key + "Extent"] = extents.get(info.label, "0 -1 0 -1 0 -1")
    return header


def _extents(labelmap: LabelMap) -> dict[int, str]:
    """Inclusive voxel bounding box ``"i0 i1 j0 j1 k0 k1"`` of each label present."""
    boxes = ndimage.find_objects(np.asarray(labelmap.labels))
    extents = {}
    for label, box in enumerate(boxes, start=1):
        if box is not None:
            k, j, i = box
            extents[label] = (f"{i.start} {i.stop - 1} {j.start} {j.stop - 1} "
                              f"{k.start} {k.stop - 1}")
    return extents
