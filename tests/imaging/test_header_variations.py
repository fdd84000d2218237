"""Property-based: whatever the header variations, the anatomy lands where it was put."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from surgiplan.imaging import load_series, scan_folder
from tests.dicom_factory import SeriesSpec, Sphere, rotation, sphere_centroid_lps, write_series

unit = st.floats(-1.0, 1.0, allow_nan=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    axis=st.tuples(unit, unit, unit).filter(lambda v: np.linalg.norm(v) > 0.1),
    angle=st.floats(-180, 180),
    spacing=st.tuples(st.floats(0.4, 2.0), st.floats(0.4, 2.0)),
    step=st.floats(0.5, 3.0),
    descending=st.booleans(),
    signed=st.booleans(),
    intercept=st.sampled_from([-1024.0, -1000.0, 0.0]),
    seed=st.integers(0, 1000),
    with_uid=st.booleans(),
)
def test_sphere_lands_at_its_patient_position(axis, angle, spacing, step, descending, signed,
                                              intercept, seed, with_uid):
    turn = rotation(axis, angle)
    n, size = 24, 24
    centre = np.array([10.0, -20.0, 35.0])
    half = np.array([(size - 1) * spacing[1], (size - 1) * spacing[0], (n - 1) * step]) / 2
    offsets = np.arange(n) * step
    origin = centre - turn @ half
    if descending:
        offsets, origin = offsets[::-1] - offsets[-1], origin + turn[:, 2] * offsets[-1]
    radius = 0.35 * min(half)
    assume(radius > 1.5 * max(*spacing, step))  # the sphere must hold whole voxels
    spec = SeriesSpec(rows=size, columns=size, offsets_mm=tuple(offsets),
                      pixel_spacing_mm=spacing, row_dir=tuple(turn[:, 0]),
                      col_dir=tuple(turn[:, 1]), origin_lps_mm=tuple(origin),
                      spheres=[Sphere(tuple(centre), radius, 400.0)], signed=signed,
                      intercept=intercept, series_uid="1.2.3.99" if with_uid else None)
    folder = Path(tempfile.mkdtemp(prefix="surgiplan-hyp-"))
    try:
        write_series(folder, spec, seed=seed)
        result = scan_folder(folder, workers=1)
        assert len(result.volumes()) == 1
        volume = load_series(result.volumes()[0], workers=1)
        assert volume.shape == (n, size, size)
        assert not result.series[0].warnings
        voxel = max(*spacing, step)
        np.testing.assert_allclose(sphere_centroid_lps(volume, 0), centre, atol=0.5 * voxel)
        np.testing.assert_allclose(volume.value_at([centre])[0], 400.0)
    finally:
        shutil.rmtree(folder)
