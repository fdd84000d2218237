"""Helpers shared by the command-line commands (series choice, sources, recipes)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from surgiplan.errors import InputError, OutputError


def select_series(result, wanted: str | None):
    """The candidate named by ``--series`` (1-based index or SeriesInstanceUID)."""
    volumes = result.volumes()
    if wanted is None:
        if not volumes:
            raise InputError(nothing_importable(result))
        chosen = max(volumes, key=lambda s: (len(s.images), -s.index))
        if len(volumes) > 1:
            others = ", ".join(str(s.index) for s in volumes if s is not chosen)
            print(f"note: {len(volumes)} volumes found; importing series {chosen.index} "
                  f"(the largest); others: {others} (choose with --series)", file=sys.stderr)
        return chosen
    if wanted.isdigit():
        matches = [s for s in result.series if s.index == int(wanted)]
    else:
        matches = [s for s in result.series if s.uid == wanted]
    if not matches:
        known = ", ".join(str(s.index) for s in result.series) or "none"
        raise InputError(f"unknown series {wanted!r}: run 'surgiplan scan' to list them "
                         f"(indices: {known})")
    usable = [s for s in matches if s.is_volume] or matches
    if len(usable) > 1:
        print(f"note: series UID {wanted} is split into {len(usable)} series "
              f"({', '.join(str(s.index) for s in usable)}); importing {usable[0].index} "
              "(choose with --series INDEX)", file=sys.stderr)
    return usable[0]


def nothing_importable(result) -> str:
    if not result.series:
        return (f"nothing importable in {result.root}: no DICOM images among "
                f"{len(result.skipped)} file(s) (check the folder)")
    return (f"nothing importable in {result.root}: none of the {len(result.series)} series is "
            "a 3D volume (run 'surgiplan scan' for the reasons)")


def check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")


def load_source(source: str, series: str | None, progress) -> object:
    """A Volume from a DICOM folder (scan + chosen series) or a NIfTI/NRRD file."""
    from surgiplan.imaging import load_series, scan_folder
    from surgiplan.imaging.volume_io import read_volume

    path = Path(source)
    if path.is_file():
        return read_volume(path)
    candidate = select_series(scan_folder(path, progress=progress), series)
    return load_series(candidate, progress=progress)



def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The twin-building options shared by ``twin`` and ``case create``."""
    parser.add_argument("source", help="DICOM folder or volume file (.nii, .nii.gz, .nrrd)")
    parser.add_argument("--series", help="series index or UID when SOURCE is a DICOM folder")
    parser.add_argument("--preset", action="append", metavar="NAME",
                        help="segment a preset (skin, lung, airway, fat, soft_tissue, vessels, "
                             "bone); repeatable")
    parser.add_argument("--seed", action="append", metavar="NAME:x,y,z[:low,high]",
                        help="grow structure NAME from an LPS mm point, optionally within an "
                             "HU window; repeatable")
    parser.add_argument("--labels", metavar="FILE",
                        help="import a label map (NIfTI/NRRD, e.g. TotalSegmentator output)")


def recipe_from_args(args: argparse.Namespace):
    """The :class:`SegmentationRecipe` the options ask for; :class:`InputError` when empty."""
    from surgiplan.segmentation.recipe import SeedRequest, SegmentationRecipe

    recipe = SegmentationRecipe(
        presets=tuple(dict.fromkeys(args.preset or ())),
        seeds=tuple(SeedRequest.parse(text) for text in args.seed or ()),
        labels_path=Path(args.labels) if args.labels else None,
    )
    if recipe.is_empty:
        raise InputError("nothing to build: give --preset NAME, --seed NAME:x,y,z or "
                         "--labels FILE (see --help)")
    if recipe.labels_path is not None and not recipe.labels_path.is_file():
        raise InputError(f"no such label file: {recipe.labels_path}")
    return recipe
