"""Rehearsal mode of the desktop app: the trainee drives a plan instrument, the app samples it.

Start puts the selected plan instrument at its start pose (outside the planned entry, see
:func:`~surgiplan.rehearsal.live.start_pose`). While rehearsing, the keyboard nudges and the 3D
tip handle move the *rehearsed* pose (the plan and its undo history are untouched); a timer
samples the pose at the physics rate into a :class:`~surgiplan.rehearsal.live.PoseSampler`;
each move is checked live (complications, deformed organs) as the scoring will check it.
Stop scores the samples with :func:`~surgiplan.rehearsal.run.record_run` in a worker, stores
the run in the case (one undo step, so Save and autosave keep it) and in the attempt history,
and opens the debrief. Abort ends without scoring.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel

from surgiplan.case.session import aimed, nudged
from surgiplan.errors import SurgiPlanError
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.placement import pose_along
from surgiplan.rehearsal.codec import StoreRun, case_runs, export_runs
from surgiplan.rehearsal.history import AttemptHistory, case_key
from surgiplan.rehearsal.live import PHYSICS_RATE_HZ, PoseSampler, ToolPose, check_at, start_pose
from surgiplan.rehearsal.run import RehearsalRun, record_run
from surgiplan.ui.live_check import snapshot


class RehearsalMode(QObject):
    """Live rehearsal of one plan instrument in ``window``.

    The questions are attributes tests replace: ``ask_trainee() -> str | None``,
    ``ask_run(runs) -> RehearsalRun | None`` and ``ask_export_path() -> Path | None``.

    Signals
    -------
    state_changed(bool)
        A rehearsal started (True) or ended (False: stopped, aborted or scored).
    scored(object)
        The scored :class:`~surgiplan.rehearsal.run.RehearsalRun`, stored in the case and
        in the history.
    """

    state_changed = Signal(bool)
    scored = Signal(object)

    def __init__(self, window, *, rate_hz: float = PHYSICS_RATE_HZ,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self.window = window
        self.rate_hz = rate_hz
        self.clock = clock
        self.trainee: str | None = None
        self.ask_trainee: Callable[[], str | None] = self._ask_trainee
        self.ask_run: Callable[[list[RehearsalRun]], RehearsalRun | None] = self._ask_run
        self.ask_export_path: Callable[[], Path | None] = self._ask_export_path
        self.show_ghost = True
        self.sampler: PoseSampler | None = None
        self.planned: InstrumentPlacement | None = None
        self.driven: InstrumentPlacement | None = None
        self.target_structure: str | None = None
        self.scoring = False
        self.last_run: RehearsalRun | None = None
        self.last_result = ""
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, round(1000.0 / rate_hz)))
        self.timer.timeout.connect(self._tick)
        self.status_label = QLabel("")
        window.statusBar().addWidget(self.status_label)
        self.status_label.hide()
        window.live.checked.connect(self._on_checked)

    # ---- state --------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """A rehearsal is being driven."""
        return self.sampler is not None

    @property
    def busy(self) -> bool:
        """Driving or scoring: the plan must not be edited."""
        return self.active or self.scoring

    @property
    def pose(self) -> ToolPose:
        """The rehearsed instrument's current pose (tip LPS mm, axis)."""
        return ToolPose.of(self.driven.tip_lps_mm, self.driven.axis)

    def history_key(self) -> str:
        """The attempt-history key of the open case (:func:`surgiplan.rehearsal.history.case_key`
        of the case and its file; an unsaved case is keyed by its content hash)."""
        session = self.window.session
        return case_key(session.case, session.path)

    # ---- start, stop, abort -------------------------------------------------------------
    def start(self) -> bool:
        """Rehearse the instrument selected in the plan; return whether it started."""
        window = self.window
        item_id = window.case_view.selected_instrument
        if window.session is None or item_id is None:
            window.show_error("select an instrument of the plan first (Plan panel), then "
                              "start the rehearsal")
            return False
        if self.busy or window.runner.busy:
            window.show_message("Finish the rehearsal or task under way first")
            return False
        if self.trainee is None:
            name = (self.ask_trainee() or "").strip()
            if not name:
                return False
            self.trainee = name
        window.tools.cancel()
        debrief = getattr(window, "debrief", None)
        if debrief is not None:
            debrief.close_replay()  # the 3D view shows the rehearsal, not a replay
        self.planned = window.session.placement(item_id)
        result = window.live.result
        findings = result.context.instruments.get(item_id) if result is not None else None
        self.target_structure = getattr(findings, "target_structure", None)
        first = start_pose(self.planned)
        self.driven = replace(self.planned, pose_lps=pose_along(first.axis, first.tip_lps_mm),
                              insertion_depth_mm=0.0)
        self.sampler = PoseSampler(self.rate_hz, self.clock)
        self.sampler.start(first)
        self.timer.start()
        self._show_ghost()
        self._moved()
        self._changed(True)
        window.show_message(f"Rehearsing {item_id}: Ctrl+arrows advance and tilt, Alt+arrows "
                            "move, drag the tip; Ctrl+Shift+R stops and scores, Esc aborts",
                            15_000)
        return True

    def abort(self) -> None:
        """End the rehearsal without scoring it."""
        if not self.active:
            return
        self._end()
        self.window.show_message("Rehearsal aborted (not scored)")

    def stop(self) -> bool:
        """End the rehearsal and score it in a worker (see the module docstring)."""
        if not self.active:
            return False
        sampler, planned, trainee = self.sampler, self.planned, self.trainee
        sampler.finish()
        script = sampler.to_script(planned.id)
        self._end(check=False)
        self.scoring = True
        self._changed(False)
        case, catalogue = snapshot(self.window.session.case), self.window.session.catalogue
        cache = self.window.live.cache

        def work(progress):
            return record_run(case, script, trainee=trainee, catalogue=catalogue, cache=cache,
                              progress=progress)

        self._when_live_idle(lambda: self._score(work))
        return True

    def _score(self, work) -> None:
        if not self.window.runner.start("Scoring the rehearsal", work, self._on_scored,
                                        self._on_score_failed, self._on_score_cancelled):
            self._on_score_failed("another task is running: score again when it ends")

    def _when_live_idle(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the live check's worker is idle (they share a cache)."""
        runner = self.window.live.runner
        if not runner.is_busy:
            callback()
            return

        def on_busy(busy: bool) -> None:
            if not busy:
                runner.busy.disconnect(on_busy)
                callback()

        runner.busy.connect(on_busy)

    def _end(self, *, check: bool = True) -> None:
        """Back to planning: the plan's poses, no ghost, no handle on the rehearsed pose."""
        window = self.window
        self.timer.stop()
        self.sampler = None
        self.driven = None
        self.status_label.hide()
        window.view3d.set_ghost(None)
        window.view3d.update_plan(window.session.case.plan, window.live.incision_paths)
        window.case_view.select_instrument(window.case_view.selected_instrument)
        if check:
            self._changed(False)
            window.live.request()

    def _changed(self, rehearsing: bool) -> None:
        self.window.menus.refresh()
        self.state_changed.emit(rehearsing)

    # ---- scoring outcome ----------------------------------------------------------------
    def _on_scored(self, run: RehearsalRun) -> None:
        window = self.window
        self.scoring = False
        self.last_run = run
        session = window.session
        session.stack.push(StoreRun(session.case, run))  # unsaved: Save/autosave keep it
        session.case.provenance.add_step("rehearse", run=run.id, instrument=run.instrument,
                                         passed=run.passed)
        try:
            with AttemptHistory(window.history_path) as history:
                attempt = history.add(run, self.history_key())
            number = f"attempt {attempt.number}"
        except (SurgiPlanError, sqlite3.Error) as exc:  # the run is kept in the case anyway
            window.show_error(f"the run is stored in the case but not in the attempt "
                              f"history: {exc}")
            number = "not in the history"
        failed = [m.name.replace("_", " ") for m in run.safety if not m.passed]
        verdict = "PASS" if run.passed else f"FAIL ({', '.join(failed)})"
        self.last_result = (f"Rehearsal of {run.instrument} by {run.trainee}, {number}: "
                            f"{verdict}; path {run.metrics.path_length_mm:.1f} mm in "
                            f"{run.metrics.time_s:.1f} s; composite "
                            f"{run.composite_score:.0f} (for information)")
        window.show_message(self.last_result, 30_000)
        self._changed(False)
        window.live.request()
        self.scored.emit(run)
        debrief = getattr(window, "debrief", None)
        if debrief is not None:
            debrief.show_run(run)

    def _on_score_failed(self, message: str) -> None:
        self.scoring = False
        self._changed(False)
        self.window.live.request()
        self.window.show_error(f"the rehearsal could not be scored: {message}")

    def _on_score_cancelled(self) -> None:
        self.scoring = False
        self._changed(False)
        self.window.live.request()
        self.window.show_message("Scoring cancelled: the rehearsal was not kept", 8000)

    # ---- driving ------------------------------------------------------------------------
    def nudge(self, kind: str, amount: float) -> bool:
        """Move the rehearsed instrument by one nudge (no undo step, the plan unchanged)."""
        if not self.active:
            return False
        self.driven = nudged(self.driven, kind, float(amount))
        self._moved()
        return True

    def drag_tip(self, tip_lps_mm) -> bool:
        """The tip handle was released at ``tip_lps_mm``: re-aim through the planned entry."""
        if not self.active:
            return False
        self.driven = aimed(self.driven, tip_lps_mm)
        self._moved()
        return True

    def _moved(self) -> None:
        """Show the new pose, tell the sampler, and check it live."""
        window, pose = self.window, self.pose
        self.sampler.move(pose)
        window.view3d.update_plan(self._display_plan(), window.live.incision_paths)
        window.view3d.set_handle(pose.tip_lps_mm, self.drag_tip)
        case, planned, target = snapshot(window.session.case), self.planned, self.target_structure
        catalogue, cache = window.session.catalogue, window.live.cache
        window.complications_panel.set_busy(True)
        window.view3d.hold_renders(True)
        window.live.runner.request(lambda: check_at(case, planned, pose, target_structure=target,
                                                    catalogue=catalogue, cache=cache))
        self._update_status()

    def _display_plan(self) -> Plan:
        plan = self.window.session.case.plan
        return Plan(incisions=dict(plan.incisions),
                    instruments={**plan.instruments, self.driven.id: self.driven},
                    landmarks=dict(plan.landmarks), measurements=dict(plan.measurements),
                    thresholds=dict(plan.thresholds))

    def _on_checked(self, _result, _latency_ms: float) -> None:
        """The live check redraws the plan as planned; put the rehearsed pose back."""
        if self.active:
            self.window.view3d.update_plan(self._display_plan(), self.window.live.incision_paths)

    def _tick(self) -> None:
        if self.active:
            self.sampler.tick()
            self._update_status()

    def _update_status(self) -> None:
        sampler, target = self.sampler, self.planned.target_lps_mm
        distance = "" if target is None else (
            f", {np.linalg.norm(self.pose.tip_lps_mm - np.asarray(target)):.1f} mm to target")
        self.status_label.setText(
            f"Rehearsing {self.planned.id} ({self.trainee}): {sampler.elapsed_s:.1f} s, "
            f"path {sampler.path_length_mm:.1f} mm{distance}")
        self.status_label.show()

    # ---- ghost --------------------------------------------------------------------------
    def set_ghost_visible(self, visible: bool) -> None:
        """Show or hide the planned trajectory while rehearsing."""
        self.show_ghost = bool(visible)
        if self.active:
            self._show_ghost()

    def _show_ghost(self) -> None:
        planned = self.planned
        shown = self.show_ghost and planned.entry_lps_mm is not None
        entry = planned.entry_lps_mm if shown else None
        target = planned.target_lps_mm if planned.target_lps_mm is not None else \
            planned.tip_lps_mm
        self.window.view3d.set_ghost(entry, target if shown else None)

    # ---- stored runs --------------------------------------------------------------------
    def debrief_stored(self) -> None:
        """Pick one of the case's stored runs and show its debrief."""
        window = self.window
        runs = case_runs(window.session.case) if window.session is not None else []
        if not runs:
            window.show_error("this case holds no rehearsal run yet: rehearse first "
                              "(Rehearse > Start)")
            return
        run = self.ask_run(runs)
        if run is not None:
            window.debrief.show_run(run)

    def export_runs(self) -> Path | None:
        """Write the case's runs as JSON Lines (one run per line)."""
        window = self.window
        runs = case_runs(window.session.case) if window.session is not None else []
        if not runs:
            window.show_error("this case holds no rehearsal run to export: rehearse first")
            return None
        path = self.ask_export_path()
        if path is None:
            return None
        written = export_runs(runs, path)
        window.show_message(f"Exported {len(runs)} run(s) to {written}")
        return written

    def change_trainee(self) -> None:
        name = (self.ask_trainee() or "").strip()
        if name:
            self.trainee = name
            self.window.show_message(f"Trainee: {name}")

    def shutdown(self) -> None:
        self.timer.stop()
        self.sampler = None

    # ---- default questions --------------------------------------------------------------
    def _ask_trainee(self) -> str | None:
        name, ok = QInputDialog.getText(self.window, "Rehearsal", "Trainee name:",
                                        text=self.trainee or "")
        return name if ok else None

    def _ask_run(self, runs: list[RehearsalRun]) -> RehearsalRun | None:
        labels = [f"{r.started}  {r.trainee}  {r.instrument}  "
                  f"{'PASS' if r.passed else 'FAIL'}  ({r.id})" for r in runs]
        chosen, ok = QInputDialog.getItem(self.window, "Debrief", "Stored run:", labels,
                                          len(labels) - 1, False)
        return runs[labels.index(chosen)] if ok and chosen in labels else None

    def _ask_export_path(self) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(self.window, "Export runs", "runs.jsonl",
                                                "JSON Lines (*.jsonl);;JSON (*.json)")
        return Path(chosen) if chosen else None
