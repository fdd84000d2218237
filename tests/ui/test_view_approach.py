"""View > 3D along the planned approach: the camera looks along the needles' mean path at the
centre of their targets, as the report's approach picture does."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.render.scene import DEFAULT_REACH_MM


def test_approach_view_looks_along_the_mean_path_at_the_targets(sample_window):
    window = sample_window
    placements = list(window.session.case.plan.instruments.values())
    entries = np.array([p.entry_lps_mm for p in placements], dtype=float)
    targets = np.array([p.target_lps_mm for p in placements], dtype=float)
    units = (targets - entries) / np.linalg.norm(targets - entries, axis=1, keepdims=True)
    mean = units.mean(axis=0)
    mean /= np.linalg.norm(mean)

    window.menus.approach_action.trigger()
    camera = window.view3d.plotter.camera
    np.testing.assert_allclose(camera.focal_point, targets.mean(axis=0), atol=1e-6)
    position, focus = np.array(camera.position), np.array(camera.focal_point)
    np.testing.assert_allclose((focus - position) / np.linalg.norm(focus - position), mean,
                               atol=1e-6)
    assert np.linalg.norm(focus - position) == pytest.approx(DEFAULT_REACH_MM)
    assert np.array(camera.up)[2] > 0.5  # head up


def test_approach_view_without_a_path_explains(sample_window):
    window = sample_window
    for item_id in list(window.session.case.plan.instruments):
        window.session.remove_item("instruments", item_id)
    window.menus.approach_action.trigger()
    assert "no instrument of the plan has a path" in window.error_box.text()
