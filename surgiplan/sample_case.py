"""The bundled sample case as a case: its twin recipe, its teaching plan, a cached case file.

``surgiplan demo`` and the app's "Open sample case" build the same case: the phantom's CT
imported, the body outline segmented from the CT, the organs taken from the phantom's label map
(as an AI model would give them), and a plan with one safe needle to the tumour, one needle
grazing the right portal vein and a subcostal incision.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from surgiplan import __version__
from surgiplan.progress import ProgressCallback

TWIN_STRUCTURES = ("skin", "liver", "tumour", "portal_vein", "hepatic_veins", "aorta",
                   "vena_cava", "kidney_left", "kidney_right", "spleen", "spine", "ribs")


GRAZE_GAP_MM = 1.8
"""How close the second sample needle's tip comes to the portal vein surface (mm)."""


def _grazing_needle(twin, catalogue, facts: dict):
    """A second needle to liver tissue beside the right portal branch: a safe path that ends
    GRAZE_GAP_MM from the vein, so the check flags the margin (the sample's teaching point)."""
    from surgiplan.plan.placement import place_along_path
    from surgiplan.plan.sample import safe_needle_path

    branch = next(s for s in facts["vessels"]["portal_vein"]["segments"]
                  if s["name"] == "right_branch")
    line = np.asarray(branch["centreline_lps_mm"], dtype=float)
    middle = line[len(line) // 2]
    tangent = line[len(line) // 2 + 1] - line[len(line) // 2 - 1]
    tangent /= np.linalg.norm(tangent)
    anterior = np.array([0.0, -1.0, 0.0]) - (np.array([0.0, -1.0, 0.0]) @ tangent) * tangent
    anterior /= np.linalg.norm(anterior)
    needle = catalogue.get("biopsy_needle_18g")
    target = middle + (branch["radius_mm"] + needle.shaft_radius_mm + GRAZE_GAP_MM) * anterior
    entry, target = safe_needle_path(twin, target, reach_mm=needle.working_length_mm,
                                     target_structure="liver")
    return place_along_path("needle-2", needle, entry, target)


def sample_recipe(case_dir: Path, facts: dict):
    """The sample twin's segmentation: the ``skin`` preset and the phantom's organ labels."""
    from surgiplan.segmentation.recipe import SegmentationRecipe

    names = {int(label): name for label, name in facts["labels"].items()
             if name in TWIN_STRUCTURES and name != "skin"}  # the body outline comes from CT
    return SegmentationRecipe(presets=("skin",), labels_path=case_dir / "labels.nii.gz",
                              label_names=names, keep=TWIN_STRUCTURES)


def apply_sample_plan(case, facts: dict):
    """Add the sample plan to ``case`` (one undo step); return the :class:`PlanCheck`."""
    from surgiplan.plan.apply import apply_plan_items
    from surgiplan.plan.catalogue import load_catalogue
    from surgiplan.plan.commands import UndoStack
    from surgiplan.plan.sample import sample_plan

    catalogue = load_catalogue()
    items = sample_plan(case.twin, catalogue, facts["tumour"]["centre_lps_mm"])
    items = replace(items, instruments=items.instruments + (
        _grazing_needle(case.twin, catalogue, facts),))
    check = apply_plan_items(UndoStack(case.plan), items, case.twin, catalogue=catalogue,
                             volume=case.volume, text="Sample plan")
    case.provenance.add_step("plan", source="surgiplan.plan.sample",
                             incisions=len(items.incisions), instruments=len(items.instruments))
    return check


def build_sample_case(*, progress: ProgressCallback | None = None):
    """Import the sample CT, build its twin and add the sample plan; return the Case."""
    from surgiplan.case.create import create_case
    from surgiplan.demo import sample_case_dir
    from surgiplan.imaging import load_series, scan_folder

    case_dir = sample_case_dir(progress=progress)
    facts = json.loads((case_dir / "facts.json").read_text())
    result = scan_folder(case_dir / "dicom", progress=progress)
    volume = load_series(result.volumes()[0], progress=progress)
    case = create_case(volume, sample_recipe(case_dir, facts), source=str(case_dir / "dicom"),
                       progress=progress)
    apply_sample_plan(case, facts)
    return case


def sample_case_file(*, cache_dir: str | os.PathLike[str] | None = None,
                     progress: ProgressCallback | None = None) -> Path:
    """The sample case file, built once per SurgiPlan version into the user cache.

    Returns
    -------
    Path
        ``<cache>/surgiplan/sample-<version>.surgiplan`` (``$XDG_CACHE_HOME`` or ``~/.cache``).
    """
    from surgiplan.case.case_file import save_case

    root = Path(cache_dir) if cache_dir is not None else Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "surgiplan"
    target = root / f"sample-{__version__}.surgiplan"
    if not target.is_file():
        root.mkdir(parents=True, exist_ok=True)
        save_case(build_sample_case(progress=progress), target)
    return target
