"""The debrief dock on the sample case: timeline, replay scrubber driving the 3D view, planned
beside performed, attempts compared with the progress chart, and the scene given back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from surgiplan.rehearsal import AttemptHistory, record_run
from surgiplan.rehearsal.history import case_key
from surgiplan.rehearsal.script import planned_approach
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.ui.debrief import install_debrief
from surgiplan.ui.live_check import snapshot


def _user_matrix(actor) -> np.ndarray:
    matrix = actor.GetUserMatrix()
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


@pytest.fixture
def debriefed(qtbot, sample_window, tmp_path):
    """Two attempts of ana on needle-1 (the second one shown) and one of ben, in a history at
    a temporary path; the debrief installed."""
    window = sample_window
    session = window.session
    placement = session.case.plan.instruments["needle-1"]
    cache = SimulationCache()

    def record(trainee: str, before_mm: float):
        script = planned_approach(placement, before_mm=before_mm, count=11)
        return record_run(snapshot(session.case), script, trainee=trainee,
                          catalogue=session.catalogue, cache=cache)

    first, run, other = record("ana", 20.0), record("ana", 10.0), record("ben", 10.0)
    window.history_path = tmp_path / "attempts.sqlite"
    with AttemptHistory(window.history_path) as history:
        key = case_key(session.case, session.path)
        for attempt in (first, other, run):
            history.add(attempt, key)
    debrief = getattr(window, "debrief", None) or install_debrief(window)
    debrief.show_run(run)
    return window, debrief, run, first


def test_timeline_scrubber_and_planned_beside_performed(qtbot, debriefed) -> None:
    window, debrief, run, _first = debriefed
    assert debrief.dock.isVisible()
    table = debrief.panel.events.table
    assert [e.structure for e in run.events] == ["skin", "liver", "tumour"]
    assert table.rowCount() == len(run.events)
    assert [table.item(r, 3).text() for r in range(3)] == [e.message for e in run.events]
    assert debrief.panel.header.result_label.text().startswith("PASS")
    assert set(debrief.panel.header.metric_labels) == {
        "collisions", "critical_contacts", "tissue_damage", "excessive_force"}
    assert "for information only" in debrief.panel.header.composite_label.text()
    assert [index for index, _kind in debrief.panel.scrubber.strip.markers] == [
        int(np.flatnonzero(run.times_s == e.time_s)[0]) for e in run.events]

    renderer = window.view3d.plotter.renderer
    scrubber = debrief.panel.scrubber
    scrubber.slider.setValue(5)
    instrument = renderer.actors["debrief:instrument"]
    pose = _user_matrix(instrument)
    assert np.array_equal(pose[:3, 3], run.tips_lps_mm[5])  # exactly the recorded tip
    assert np.array_equal(pose[:3, 2], run.axes[5])
    qtbot.waitUntil(lambda: debrief.frame is not None
                    and debrief.frame.time_s == run.times_s[5], timeout=60_000)
    assert not window.view3d.scene.instrument_actor("needle-1").visibility

    planned = renderer.actors["debrief:planned"].mapper.dataset.points
    np.testing.assert_allclose(planned, [run.planned_entry_lps_mm, run.planned_target_lps_mm])
    performed = renderer.actors["debrief:performed"].mapper.dataset.points
    np.testing.assert_allclose(performed, run.tips_lps_mm)

    # clicking an event moves the scrubber to its time
    rect = table.visualItemRect(table.item(1, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert scrubber.time_s == run.events[1].time_s
    assert np.array_equal(_user_matrix(instrument)[:3, 3],
                          run.tips_lps_mm[run.times_s == run.events[1].time_s][0])

    # Play runs to the last sample at the recorded rate and stops there
    qtbot.mouseClick(scrubber.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not scrubber.play_button.isChecked(), timeout=20_000)
    assert scrubber.index == len(run.times_s) - 1
    assert np.array_equal(_user_matrix(instrument)[:3, 3], run.tips_lps_mm[-1])


def test_attempts_compared_and_progress_chart(debriefed) -> None:
    _window, debrief, run, first = debriefed
    attempts = debrief.panel.attempts.table
    assert attempts.rowCount() == 2  # ana's two attempts, not ben's
    assert [attempts.item(r, 0).text() for r in range(2)] == ["1", "2"]
    assert attempts.item(1, 7).text() == f"{run.composite_score:.1f}"
    assert attempts.item(0, 3).text() == f"{first.metrics.path_length_mm:.1f}"
    assert attempts.item(1, 0).font().bold() and not attempts.item(0, 0).font().bold()
    chart = debrief.panel.chart
    assert chart.canvas is not None and chart.canvas.figure is chart.figure
    score_line = chart.figure.axes[0].lines[0]
    np.testing.assert_array_equal(score_line.get_xdata(), [1.0, 2.0])
    np.testing.assert_allclose(score_line.get_ydata(),
                               [first.composite_score, run.composite_score])
    metrics = debrief.panel.metrics
    names = [metrics.item(r, 0).text() for r in range(metrics.rowCount())]
    assert names[:3] == ["Time T", "Path length L", "Angular path"]
    assert "Collisions" in names
    # the run follows its planned approach: on plan all along
    row = names.index("Largest distance to the planned approach")
    assert metrics.item(row, 1).text() == "0.00 mm"


def test_close_replay_gives_the_scene_back(qtbot, debriefed) -> None:
    window, debrief, run, _first = debriefed
    scene = window.view3d.scene
    planned_pose = window.session.case.plan.instruments["needle-1"].pose
    qtbot.waitUntil(lambda: debrief.frame is not None, timeout=60_000)  # the worker is idle
    # a frame deforming the liver (as a pushing instrument would) is drawn, then undone
    rest = window.session.case.twin.structure("liver").surface.vertices_lps_mm
    frame = replace(debrief.replayer.frame(run.times_s[3]),
                    deformed_vertices_lps_mm={"liver": rest + [0.0, 2.0, 0.0]})
    debrief._on_frame((debrief.replayer, frame), 0.0)
    np.testing.assert_allclose(scene.structures["liver"].polydata.points, rest + [0, 2.0, 0])

    debrief.close_replay()
    names = window.view3d.plotter.renderer.actors
    assert not any(name.startswith("debrief:") for name in names)
    needle = scene.instrument_actor("needle-1")
    assert needle.visibility
    np.testing.assert_array_equal(_user_matrix(needle), planned_pose)
    np.testing.assert_array_equal(scene.structures["liver"].polydata.points, rest)

    # closing the dock ends a replay too
    debrief.show_run(run)
    assert "debrief:instrument" in window.view3d.plotter.renderer.actors
    debrief.dock.close()
    assert not debrief.replaying
    assert "debrief:instrument" not in window.view3d.plotter.renderer.actors
