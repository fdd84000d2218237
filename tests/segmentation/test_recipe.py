"""Recipes: presets, seeds and label files run into one label map with overlapping regions."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging import Volume
from surgiplan.imaging.export import LPS_TO_RAS
from surgiplan.segmentation.recipe import SeedRequest, SegmentationRecipe, run_recipe


def _abdomen() -> Volume:
    """Air around a body (40 HU) holding a 'liver' ball (110 HU) and a 'vessel' tube (200 HU)."""
    k, j, i = np.indices((40, 60, 60))
    voxels = np.full((40, 60, 60), -1000, dtype=np.int16)
    voxels[((i - 30) / 26.0) ** 2 + ((j - 30) / 22.0) ** 2 <= 1.0] = 40
    voxels[(i - 22) ** 2 + (j - 30) ** 2 + (k - 20) ** 2 <= 64] = 110
    voxels[(i - 40) ** 2 + (j - 30) ** 2 <= 9] = 200
    affine = np.diag([1.5, 1.5, 2.0, 1.0])
    affine[:3, 3] = (-45.0, -45.0, -40.0)
    return Volume(voxels, affine, "CT")


@pytest.mark.parametrize("text,expected", [
    ("liver:-12,0,0", ("liver", (-12.0, 0.0, 0.0), None)),
    ("portal vein:1.5,-2e1,3:100,250", ("portal vein", (1.5, -20.0, 3.0), (100.0, 250.0))),
])
def test_seed_parsing(text, expected):
    seed = SeedRequest.parse(text)
    assert (seed.name, seed.point_lps_mm, seed.window_hu) == expected


@pytest.mark.parametrize("text", ["liver", "liver:1,2", "liver:1,2,3:5", "liver:a,b,c",
                                  "liver:1,2,3:200,100"])
def test_bad_seeds_are_refused_with_the_syntax(text):
    with pytest.raises(InputError, match="NAME:x,y,z|empty"):
        SeedRequest.parse(text)


def test_presets_and_seeds_give_overlapping_regions_and_one_label_map():
    volume = _abdomen()
    liver_lps = tuple(volume.ijk_to_lps([[22, 30, 20]])[0])
    recipe = SegmentationRecipe(presets=("skin",),
                                seeds=(SeedRequest("liver", liver_lps, (60.0, 160.0)),))
    result = run_recipe(volume, recipe)
    assert result.labelmap.names == ["skin", "liver"]
    skin, liver = result.regions["skin"], result.regions["liver"]
    assert liver.voxel_count == int(np.count_nonzero(volume.voxels == 110))
    assert skin.voxel_count == int(np.count_nonzero(volume.voxels > -500))
    # the label map keeps the liver visible inside the body outline
    assert result.labelmap.voxel_count("liver") == liver.voxel_count
    assert result.labelmap.voxel_count("skin") == skin.voxel_count - liver.voxel_count
    info = result.labelmap.structure("liver")
    assert info.tissue == "liver" and not info.critical


def test_labels_file_is_imported_and_named(tmp_path):
    volume = _abdomen()
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[volume.voxels == 110] = 5  # TotalSegmentator id 5: liver
    labels[volume.voxels == 200] = 52  # id 52: aorta
    nib.save(nib.Nifti1Image(labels.transpose(2, 1, 0), LPS_TO_RAS @ volume.affine_lps),
             tmp_path / "seg.nii.gz")
    result = run_recipe(volume, SegmentationRecipe(labels_path=tmp_path / "seg.nii.gz"))
    assert sorted(result.labelmap.names) == ["aorta", "liver"]
    assert result.labelmap.structure("aorta").critical


def test_unknown_preset_and_duplicate_names_are_refused():
    volume = _abdomen()
    with pytest.raises(InputError, match="unknown preset 'kidney'"):
        run_recipe(volume, SegmentationRecipe(presets=("kidney",)))
    seed = SeedRequest("skin", tuple(volume.ijk_to_lps([[22, 30, 20]])[0]), (60.0, 160.0))
    with pytest.raises(InputError, match="two structures are named 'skin'"):
        run_recipe(volume, SegmentationRecipe(presets=("skin",), seeds=(seed,)))
