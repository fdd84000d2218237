"""Charts: one point per run, colours follow pass/fail, distances per structure, PNG bytes."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from surgiplan.rehearsal.metrics import motion_metrics
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import SafetyMetric
from surgiplan.render.charts import (
    FAIL_COLOUR,
    PASS_COLOUR,
    distance_profile_figure,
    figure_png,
    progress_figure,
)


def _run(run_id: str, score: float, passed: bool, end_x: float = 10.0) -> RehearsalRun:
    t = np.array([0.0, 1.0, 2.0])
    tips = np.array([[0, 0, 0], [5, 0, 0], [end_x, 0, 0]], dtype=float)
    axes = np.tile([1.0, 0, 0], (3, 1))
    safety = [SafetyMetric("critical_contacts", 0 if passed else 1, passed, None, "mm", "x")]
    return RehearsalRun(run_id, "needle-1", "biopsy_needle_18g", "ana", "2024-01-01T00:00:00",
                        t, tips, axes, (0.0, 0, 0), (10.0, 0, 0),
                        motion_metrics(t, tips, axes, planned_target_lps_mm=[10.0, 0, 0]),
                        safety=safety, composite_score=score)


@pytest.fixture
def runs() -> list[RehearsalRun]:
    return [_run("a", 40.0, False, 14.0), _run("b", 65.0, True, 12.0),
            _run("c", 55.0, False, 11.0), _run("d", 90.0, True, 10.5)]


def test_progress_has_one_point_per_run_in_order(runs) -> None:
    figure = progress_figure(runs)
    assert isinstance(figure, Figure)
    score_axes = figure.axes[0]
    line = score_axes.lines[0]
    assert list(line.get_xdata()) == [1, 2, 3, 4]
    assert list(line.get_ydata()) == [40.0, 65.0, 55.0, 90.0]
    points = score_axes.collections[0].get_offsets()
    assert np.allclose(points, [[1, 40], [2, 65], [3, 55], [4, 90]])
    assert score_axes.get_xlabel() == "Attempt"
    assert "score" in score_axes.get_ylabel().lower()
    assert score_axes.get_ylim() == (0, 100)


def test_progress_colours_follow_pass_and_fail(runs) -> None:
    figure = progress_figure(runs)
    markers = figure.axes[0].collections[0].get_facecolors()
    expected = [FAIL_COLOUR, PASS_COLOUR, FAIL_COLOUR, PASS_COLOUR]
    assert np.allclose(markers, [to_rgba(c) for c in expected])
    fills = figure.axes[0].collections[1:]
    assert len(fills) == 4
    for fill, colour in zip(fills, expected, strict=True):
        assert np.allclose(fill.get_facecolor()[0][:3], to_rgba(colour)[:3])


def test_progress_tip_error_on_a_second_axis(runs) -> None:
    figure = progress_figure(runs)
    assert len(figure.axes) == 2
    errors = figure.axes[1].lines[0].get_ydata()
    assert np.allclose(errors, [4.0, 2.0, 1.0, 0.5])
    assert "mm" in figure.axes[1].get_ylabel()


def test_progress_without_tip_error_has_one_axis(runs) -> None:
    no_target = [replace(r, metrics=replace(r.metrics, tip_error_mm=None)) for r in runs]
    assert len(progress_figure(no_target).axes) == 1


def test_progress_of_no_runs_says_so() -> None:
    figure = progress_figure([])
    assert [t.get_text() for t in figure.axes[0].texts] == ["No rehearsal attempts"]


def test_distance_profile_one_line_per_structure() -> None:
    along = np.linspace(0.0, 80.0, 41)
    distances = {"portal_vein": 30.0 - 0.3 * along, "hepatic_artery": np.full(41, 12.0)}
    figure = distance_profile_figure(along, distances, title="needle-1", margin_mm=5.0)
    axes = figure.axes[0]
    labelled = {line.get_label(): line for line in axes.lines}
    assert np.allclose(labelled["portal_vein"].get_ydata(), distances["portal_vein"])
    assert np.allclose(labelled["hepatic_artery"].get_xdata(), along)
    assert "margin 5 mm" in labelled
    assert axes.get_title() == "needle-1"
    assert axes.get_xlim() == (0.0, 80.0)


def test_figure_png_is_a_picture_of_the_requested_size(runs) -> None:
    data = figure_png(progress_figure(runs, size_in=(4.0, 2.0)), dpi=100)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (400, 200)
    pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 10.0


def test_distance_profile_caps_the_axis_only_when_data_go_higher() -> None:
    along = np.linspace(0.0, 50.0, 11)
    far = {"aorta": np.full(11, 120.0), "portal_vein": np.linspace(30.0, 2.0, 11)}
    assert distance_profile_figure(along, far, y_max_mm=40.0).axes[0].get_ylim()[1] == 40.0
    near = {"portal_vein": np.linspace(20.0, 2.0, 11)}
    top = distance_profile_figure(along, near, y_max_mm=40.0).axes[0].get_ylim()[1]
    assert 20.0 < top < 40.0
