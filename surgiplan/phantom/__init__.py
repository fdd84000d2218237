"""Deterministic synthetic abdominal CT phantom with ground truth.

``generate_phantom(output_dir)`` writes a CT Image Storage DICOM series (``dicom/``),
its label map (``labels.nii.gz``) and a JSON of known facts (``facts.json``, schema in
:mod:`surgiplan.phantom.facts`). Geometry follows DICOM patient LPS millimetres; see
:mod:`surgiplan.phantom.grid` for the voxel conventions. Regenerate the committed sample
with ``python -m surgiplan.phantom data/sample_case``.
"""

from surgiplan.phantom.anatomy_spec import HU, LABEL_IDS, LABELS
from surgiplan.phantom.generator import DEFAULT_SEED, PhantomCase, generate_phantom
from surgiplan.phantom.grid import PhantomGrid
from surgiplan.phantom.nifti_writer import read_label_map

__all__ = [
    "DEFAULT_SEED",
    "HU",
    "LABELS",
    "LABEL_IDS",
    "PhantomCase",
    "PhantomGrid",
    "generate_phantom",
    "read_label_map",
]
