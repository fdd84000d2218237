"""Top-level phantom generation: label map -> CT series, NIfTI labels and facts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surgiplan.phantom.anatomy import build_anatomy
from surgiplan.phantom.dicom_writer import write_series
from surgiplan.phantom.facts import build_facts, write_facts
from surgiplan.phantom.grid import DEFAULT_SHAPE_KJI, PhantomGrid
from surgiplan.phantom.intensity import synthesize_ct
from surgiplan.phantom.nifti_writer import write_label_map

DEFAULT_SEED = 20261126
DICOM_DIRNAME = "dicom"
LABELS_FILENAME = "labels.nii.gz"
FACTS_FILENAME = "facts.json"


@dataclass(frozen=True)
class PhantomCase:
    """Where a generated phantom case lives.

    Attributes
    ----------
    dicom_dir : pathlib.Path
        Folder of the CT series (``IM0001.dcm`` ... one file per axial slice).
    labels_path : pathlib.Path
        Ground-truth label map (NIfTI-1, gzipped).
    facts_path : pathlib.Path
        Ground-truth facts (JSON, schema in :mod:`surgiplan.phantom.facts`).
    n_slices : int
        Number of slices / DICOM files.
    """

    dicom_dir: Path
    labels_path: Path
    facts_path: Path
    n_slices: int


def generate_phantom(
    output_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    shape_kji: tuple[int, int, int] = DEFAULT_SHAPE_KJI,
) -> PhantomCase:
    """Generate the synthetic abdominal CT phantom into ``output_dir``.

    Writes ``dicom/IM0001.dcm``..., ``labels.nii.gz`` and ``facts.json``. The anatomy
    is fixed; ``seed`` drives the image noise and the DICOM UIDs, and the same seed
    and shape always give identical files.

    Parameters
    ----------
    output_dir : pathlib.Path
        Target folder, created if missing; existing phantom files are replaced.
    seed : int
        Seed of :func:`numpy.random.default_rng` and of the UIDs.
    shape_kji : tuple of int
        Grid shape ``(n_slices, n_rows, n_columns)`` over the fixed 384 x 384 x 192 mm
        field of view; the default gives 1.5 x 1.5 x 3.0 mm voxels. Smaller shapes
        make quick test cases.

    Returns
    -------
    PhantomCase
        Paths of the written files.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    grid = PhantomGrid.from_shape(shape_kji)
    anatomy = build_anatomy(grid)
    hu = synthesize_ct(anatomy.labels, np.random.default_rng(seed))
    case = PhantomCase(
        dicom_dir=output_dir / DICOM_DIRNAME,
        labels_path=output_dir / LABELS_FILENAME,
        facts_path=output_dir / FACTS_FILENAME,
        n_slices=grid.shape_kji[0],
    )
    write_series(hu, grid, case.dicom_dir, seed)
    write_label_map(anatomy.labels, grid, case.labels_path)
    write_facts(build_facts(anatomy, seed), case.facts_path)
    return case
