"""The coarse (2x grid) body outline used by presets deep inside the body (lung, airway)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.segmentation.body import any_pool, coarse_body_outline, upsample
from surgiplan.segmentation.presets import body_outline, load_presets, segment_preset
from tests.segmentation.test_presets import synthetic_chest


def _cropped(volume: Volume, cut: tuple[int, int, int]) -> Volume:
    """The volume without its last ``cut`` slices / rows / columns (odd shapes)."""
    k, j, i = (n - c for n, c in zip(volume.shape, cut, strict=True))
    return Volume(np.ascontiguousarray(volume.voxels[:k, :j, :i]), volume.affine_lps.copy(),
                  "CT")


@pytest.mark.parametrize("shape", [(6, 8, 10), (5, 7, 9), (4, 3, 1)])
def test_any_pool_and_upsample_match_the_block_definition(shape):
    rng = np.random.default_rng(3)
    mask = rng.random(shape) < 0.1
    pooled = any_pool(mask)
    for index in np.ndindex(pooled.shape):
        block = mask[tuple(slice(2 * n, 2 * n + 2) for n in index)]
        assert pooled[index] == block.any()
    coarse = rng.integers(0, 3, size=pooled.shape).astype(np.uint8)
    up = upsample(coarse, shape)
    assert up.shape == shape
    assert np.array_equal(up, coarse[np.ix_(*(np.arange(n) // 2 for n in shape))])


@pytest.mark.parametrize("cut", [(0, 0, 0), (1, 1, 1)])
def test_coarse_body_holds_the_interior_air_and_no_outside_air(cut):
    volume, truth = synthetic_chest()
    volume = _cropped(volume, cut)
    lungs = truth["lungs"][tuple(slice(0, n) for n in volume.shape)]
    fine = body_outline(volume).to_full_mask()
    coarse = body_outline(volume, detail="coarse").to_full_mask()
    air = volume.voxels <= -400
    interior_air = fine & air
    assert lungs.any() and np.all(coarse[lungs])  # the known lungs
    assert np.all(coarse[interior_air])  # lungs, airway, bowel gas of the full outline
    assert not np.any(coarse & air & ~fine)  # no air around the patient
    assert not np.any(coarse & ~fine & (volume.voxels >= 100))  # nor the table


def test_air_presets_are_the_same_with_the_coarse_or_the_full_body():
    volume, _ = synthetic_chest()
    fine = segment_preset(volume, "skin")
    presets = load_presets()
    assert presets["lung"].body_detail == "coarse" and presets["airway"].body_detail == "coarse"
    assert presets["fat"].body_detail == "full"
    for name in ("lung", "airway"):
        with_fine = segment_preset(volume, name, body=fine).to_full_mask()
        assert with_fine.any()
        assert np.array_equal(segment_preset(volume, name).to_full_mask(), with_fine)
        as_full = replace(presets[name], body_detail="full")
        assert np.array_equal(segment_preset(volume, as_full).to_full_mask(), with_fine)


def test_coarse_body_of_an_empty_scan_is_empty():
    volume = Volume(np.full((5, 6, 7), -1000, dtype=np.int16), np.eye(4), "CT")
    assert coarse_body_outline(volume, -500, None).is_empty


def test_body_detail_is_checked(tmp_path):
    table = tmp_path / "t.json"
    table.write_text('{"presets": [{"name": "x", "hu_min": 0, "hu_max": null, "colour": [1, 1, 1],'
                     ' "tissue": "fat", "critical": false, "body_detail": "half"}]}')
    with pytest.raises(InputError, match="body_detail"):
        load_presets(table)
