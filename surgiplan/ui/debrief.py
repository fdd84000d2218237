"""The debrief of a rehearsal run: verdict, metrics, events timeline, replay with a scrubber
(instrument and deformed tissue in the 3D view), the planned trajectory beside the performed
one, the trainee's attempts on this case compared, and the progress chart.

:func:`install_debrief` adds a "Debrief" dock (hidden until used) to the main window and
returns the :class:`Debrief` controller; :meth:`Debrief.show_run` shows a scored run;
:meth:`Debrief.close_replay` (or closing the dock) gives the 3D view the case's own scene back.

The replay's frames come from :class:`~surgiplan.rehearsal.replay.Replayer` (the core): the
pose is shown at once; the deformation, which may take from milliseconds to seconds for a new
pose, is computed in a worker (the latest request wins) and drawn when it arrives.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QTabWidget, QVBoxLayout, QWidget

from surgiplan.rehearsal.history import AttemptHistory, HistoryError, case_key
from surgiplan.rehearsal.replay import PathComparison, Replayer, ReplayFrame, compare_paths
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.ui.debrief_panels import (
    METRIC_COLUMNS,
    AttemptsTable,
    EventsTable,
    ProgressChart,
    ResultHeader,
    fill_table,
    make_table,
    metric_rows,
)
from surgiplan.ui.debrief_scene import ReplayScene
from surgiplan.ui.debrief_scrubber import Scrubber
from surgiplan.ui.live_check import snapshot
from surgiplan.ui.live_runner import LiveRunner

DOCK_TITLE = "Debrief"
REPLAY_DEBOUNCE_MS = 20


class DebriefDock(QDockWidget):
    """The dock; tells when the user closes it."""

    closed = Signal()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().closeEvent(event)
        self.closed.emit()


class DebriefPanel(QWidget):
    """Header and scrubber above tabs: Events, Metrics, Attempts, Progress."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = ResultHeader()
        self.scrubber = Scrubber()
        self.events = EventsTable()
        self.metrics = make_table(METRIC_COLUMNS, "Value")
        self.attempts = AttemptsTable()
        self.chart = ProgressChart()
        self.tabs = QTabWidget()
        for widget, title in ((self.events, "Events"), (self.metrics, "Metrics"),
                              (self.attempts, "Attempts"), (self.chart, "Progress")):
            self.tabs.addTab(widget, title)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.scrubber)
        layout.addWidget(self.tabs, 1)

    def show_run(self, run: RehearsalRun, comparison: PathComparison) -> None:
        self.header.show_run(run)
        self.scrubber.set_run(run.times_s, run.events)
        self.events.set_events(run.events)
        fill_table(self.metrics, metric_rows(run, comparison))


class Debrief(QObject):
    """Shows runs in the window's Debrief dock and replays them in its 3D view.

    Attributes
    ----------
    run : RehearsalRun or None
        The run shown.
    replayer : Replayer or None
        Its frames (``None`` when no replay is on).
    frame : ReplayFrame or None
        The latest frame whose deformation is drawn.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.run: RehearsalRun | None = None
        self.replayer: Replayer | None = None
        self.frame: ReplayFrame | None = None
        self.cache = SimulationCache()  # used by the replay worker only
        self.panel = DebriefPanel()
        self.dock = DebriefDock(DOCK_TITLE, window)
        self.dock.setObjectName(DOCK_TITLE)
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self.dock.closed.connect(self.close_replay)
        self.scene = ReplayScene(window.view3d)
        self._runner: LiveRunner | None = None
        self._session = None
        self.panel.scrubber.moved.connect(self._on_moved)
        self.panel.events.time_chosen.connect(self.go_to_time)
        window.installEventFilter(self)

    @property
    def runner(self) -> LiveRunner:
        """The replay worker (started when first needed, stopped when the window closes)."""
        if self._runner is None:
            self._runner = LiveRunner(self, debounce_ms=REPLAY_DEBOUNCE_MS)
            self._runner.finished.connect(self._on_frame)
            self._runner.failed.connect(
                lambda message: self.window.show_message(f"Replay failed: {message}"))
        return self._runner

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()  # restarted on the next replay if the close is refused
        return super().eventFilter(watched, event)

    # ---- showing a run ------------------------------------------------------------------
    def show_run(self, run: RehearsalRun) -> None:
        """Show ``run`` (scored): verdict, metrics, timeline, attempts, progress, and its
        replay from the first sample; raise the dock."""
        session = self.window.session
        if session is None:
            self.window.show_error("open the case the run was recorded on to debrief it")
            return
        if len(run.times_s) == 0:
            self.window.show_error(f"run {run.id} has no samples to replay: record it again")
            return
        self.close_replay()
        self.run = run
        self._session = session
        self.replayer = Replayer(snapshot(session.case), run, session.catalogue, self.cache)
        comparison = compare_paths(run, self.replayer.planned)
        self.panel.show_run(run, comparison)
        self._show_attempts(run)
        self.scene.start(self.replayer.planned, session.catalogue, comparison)
        self._on_moved(0)
        self.dock.show()
        self.dock.raise_()

    def _show_attempts(self, run: RehearsalRun) -> None:
        session = self.window.session
        key = case_key(session.case, session.path)
        try:
            with AttemptHistory(self.window.history_path) as history:
                attempts = history.attempts(run.trainee, key)
                runs = [attempt.run() for attempt in attempts]
        except HistoryError as exc:
            self.panel.attempts.set_attempts([], run.id, f"Attempt history unavailable: {exc}")
            self.panel.chart.show_runs([])
            return
        note = (f"{len(attempts)} attempt(s) of {run.trainee} on this case"
                if attempts else f"No attempts of {run.trainee} on this case in the history")
        self.panel.attempts.set_attempts(attempts, run.id, note)
        self.panel.chart.show_runs(runs)

    # ---- replay -------------------------------------------------------------------------
    @property
    def replaying(self) -> bool:
        return self.replayer is not None

    def go_to_time(self, time_s: float) -> None:
        """Move the scrubber to the sample at ``time_s`` (s)."""
        scrubber = self.panel.scrubber
        scrubber.pause()
        scrubber.go_to(scrubber.index_of(time_s))

    def _on_moved(self, index: int) -> None:
        replayer = self.replayer
        if replayer is None:
            return
        if self.window.session is not self._session:  # another case opened meanwhile
            self.close_replay()
            return
        time_s = float(replayer.run.times_s[index])
        self.scene.set_pose(replayer.run.pose_at(time_s))
        self.runner.request(lambda: (replayer, replayer.frame(time_s)))

    def _on_frame(self, answer, _latency_ms: float) -> None:
        replayer, frame = answer
        if replayer is not self.replayer or self.window.session is not self._session:
            return  # a frame of a replay closed since
        self.frame = frame
        self.scene.set_deformed(self.window.session.case.twin, frame.deformed_vertices_lps_mm)

    def close_replay(self) -> None:
        """End the replay: the plan's instrument, the organs at rest (or as the live check
        deformed them) and no replay lines in the 3D view."""
        self.panel.scrubber.pause()
        if self.replayer is None and not self.scene.active:
            return
        self.replayer = None
        self.frame = None
        session = self.window.session
        self.scene.stop(session.case.twin if session is not None else None)
        self.window.live.show_result()

    def shutdown(self) -> None:
        """Stop playing and the replay worker (the window is closing)."""
        self.panel.scrubber.pause()
        if self._runner is not None:
            self._runner.shutdown()
            self._runner.deleteLater()
            self._runner = None


def install_debrief(window) -> Debrief:
    """Add the Debrief dock (hidden until a run is shown) to ``window``; return its controller.
    """
    return Debrief(window)
