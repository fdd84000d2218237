"""Slice extraction and window/level mapping."""

from __future__ import annotations

import numpy as np

from surgiplan.imaging import Volume
from surgiplan.render.slices import (
    CT_PRESETS,
    Plane,
    WindowLevel,
    automatic_window,
    display_to_ijk,
    extract_plane,
    presets_for,
    to_display,
)


def _volume(modality="CT") -> Volume:
    voxels = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    affine = np.diag([0.5, 0.7, 2.0, 1.0])
    return Volume(voxels, affine, modality)


def test_planes_map_display_pixels_back_to_the_right_voxel():
    volume = _volume()
    for plane, index in ((Plane.AXIAL, 2), (Plane.CORONAL, 3), (Plane.SAGITTAL, 4)):
        image = extract_plane(volume, plane, index)
        height, width = image.values.shape
        for x, y in ((0, 0), (width - 1, height - 1), (1, 2)):
            i, j, k = display_to_ijk(volume, image, x, y)
            assert volume.voxels[k, j, i] == image.values[y, x]


def test_coronal_and_sagittal_show_superior_at_the_top_with_physical_pixel_sizes():
    volume = _volume()
    coronal = extract_plane(volume, Plane.CORONAL, 0)
    assert coronal.values[0, 0] == volume.voxels[-1, 0, 0]
    assert coronal.pixel_mm == (0.5, 2.0)
    assert extract_plane(volume, Plane.SAGITTAL, 0).pixel_mm == (0.7, 2.0)


def test_window_level_mapping():
    window = WindowLevel("test", 40.0, 400.0)
    grey = to_display(np.array([[-160.0, 40.0, 240.0, 1000.0]]), window)
    assert grey.tolist() == [[0, 127, 255, 255]]


def test_presets_depend_on_modality():
    assert presets_for(_volume("CT")) == CT_PRESETS
    mr = presets_for(_volume("MR"))
    assert mr[0].name == "Automatic" and mr[0].width > 0
    window = automatic_window(_volume("MR"))
    assert 0 < window.center < 120


def test_named_presets_cover_the_standard_ct_windows():
    from surgiplan.render.slices import preset_named

    names = [p.name for p in CT_PRESETS]
    assert names == ["Soft tissue", "Lung", "Bone", "Brain", "Liver"]
    lung = preset_named("lung")
    assert (lung.low, lung.high) == (-1350.0, 150.0)
    assert preset_named("Brain").width == 80.0


def test_plane_slice_and_pixel_mapping_agree_with_extract_plane():
    from surgiplan.render.slices import ijk_to_pixel, pixel_to_ijk, plane_slice

    volume = _volume()
    for plane, index in ((Plane.AXIAL, 2), (Plane.CORONAL, 3), (Plane.SAGITTAL, 4)):
        image = extract_plane(volume, plane, index)
        assert np.array_equal(plane_slice(volume.voxels, plane, index), image.values)
        height, width = image.values.shape
        for x, y in ((0, 0), (width - 1, height - 1), (1, 2)):
            ijk = pixel_to_ijk(volume.shape, plane, index, [[x, y]])[0]
            assert tuple(ijk.astype(int)) == display_to_ijk(volume, image, x, y)
            xy, depth = ijk_to_pixel(volume.shape, plane, [ijk])
            assert xy[0].tolist() == [x, y] and depth[0] == index
