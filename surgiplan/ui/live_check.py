"""Live simulation in the app: after every edit, collision, deformation and the rules run in a
worker on a snapshot of the case; the complications panel, the highlights and the deformed
organs follow.

The check reuses a :class:`~surgiplan.simulation.check_cache.SimulationCache`, so moving one
instrument re-simulates that instrument only. Requests are debounced and superseded ones are
dropped (:class:`~surgiplan.ui.live_runner.LiveRunner`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from surgiplan.case.model import Case
from surgiplan.case.session import CaseSession
from surgiplan.plan.model import Plan
from surgiplan.risk.model import Severity
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import CheckResult, check_case
from surgiplan.twin.twin import PatientTwin
from surgiplan.ui.live_runner import LiveRunner


@dataclass
class Prepared:
    """A session ready to show: its check cache primed and its plan checked (made in a worker).
    """

    session: CaseSession
    cache: SimulationCache
    result: CheckResult


def snapshot(case: Case) -> Case:
    """A shallow copy of ``case`` a worker can read while the window edits the original.

    Plan items and structure models are immutable or only replaced, so copying the tables is
    enough.
    """
    plan = case.plan
    plan_copy = Plan(incisions=dict(plan.incisions), instruments=dict(plan.instruments),
                     landmarks=dict(plan.landmarks), measurements=dict(plan.measurements),
                     thresholds=dict(plan.thresholds))
    twin = case.twin
    twin_copy = PatientTwin(twin.labelmap, dict(twin.structures), dict(twin.display))
    return replace(case, plan=plan_copy, twin=twin_copy)


def highlight_segments(result: CheckResult) -> tuple[list[str], np.ndarray]:
    """Structures flagged (critical or warning) and the closest-point segments (N, 2, 3) LPS mm
    between each flagged instrument and the structure it comes too close to."""
    structures: list[str] = []
    segments = []
    for complication in result.complications:
        if complication.severity < Severity.WARNING:
            continue
        structures += [s for s in complication.structures if s not in structures]
        findings = result.context.instruments.get(complication.item_id or "")
        for name in complication.structures if findings is not None else ():
            clearance = findings.clearances.get(name)
            if clearance is not None and clearance.distance_mm > 0:
                segments.append((clearance.point_lps_mm, clearance.structure_point_lps_mm))
    return structures, np.asarray(segments, dtype=float).reshape(-1, 2, 3)


class LiveCheck(QObject):
    """Runs and shows the live check of the window's session.

    Signals
    -------
    checked(object, float)
        The new :class:`CheckResult` and the latency (ms) from the edit to its display.
    """

    checked = Signal(object, float)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.runner = LiveRunner(self)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.cache = SimulationCache()
        self.result: CheckResult | None = None
        self.last_latency_ms: float | None = None
        self._deformed: set[str] = set()

    @staticmethod
    def prepare(session: CaseSession, progress=None) -> Prepared:
        """Check the session's plan once with a fresh cache (call it in a worker)."""
        cache = SimulationCache()
        result = check_case(snapshot(session.case), catalogue=session.catalogue,
                            progress=progress, cache=cache)
        return Prepared(session, cache, result)

    def attach(self, prepared: Prepared) -> None:
        self.cache, self.result = prepared.cache, prepared.result
        self._deformed = set()

    @property
    def incision_paths(self) -> dict[str, np.ndarray]:
        """Traced incisions (id -> (n, 3) LPS mm) of the latest check."""
        if self.result is None:
            return {}
        return {item_id: findings.path.path_lps_mm
                for item_id, findings in self.result.context.incisions.items()}

    def request(self) -> None:
        """Check the current plan soon (debounced); the panel shows it is checking."""
        session = self.window.session
        if session is None:
            return
        case, cache, catalogue = snapshot(session.case), self.cache, session.catalogue
        self.window.complications_panel.set_busy(True)
        self.window.view3d.hold_renders(True)  # draw the edit together with its check
        self.runner.request(lambda: check_case(case, catalogue=catalogue, cache=cache))

    def invalidate(self) -> None:
        """The twin changed: the cache notices by itself; check again."""
        self.request()

    def _on_finished(self, result: CheckResult, latency_ms: float) -> None:
        started = time.perf_counter()
        self.result = result
        self.window.complications_panel.set_complications(result.complications)
        latency_ms += (time.perf_counter() - started) * 1000.0  # until the panel shows it
        self.last_latency_ms = latency_ms
        self.window.physics_label.setText(f"Simulation: {latency_ms:.0f} ms "
                                          f"({1000.0 / max(latency_ms, 1e-3):.0f} Hz)")
        self.show_result()
        self.window.view3d.hold_renders(False)
        self.checked.emit(result, latency_ms)

    def _on_failed(self, message: str) -> None:
        self.window.complications_panel.set_busy(False)
        self.window.view3d.hold_renders(False)
        self.window.show_message(f"Check failed: {message}")

    def show_result(self) -> None:
        """Complications, highlights, deformed organs and incision paths of the latest check."""
        window, result = self.window, self.result
        if result is None or window.session is None:
            return
        window.complications_panel.set_complications(result.complications)
        structures, segments = highlight_segments(result)
        view = window.view3d
        view.clear_highlight()
        if structures:
            view.highlight(structures, segments if len(segments) else None)
        self._show_deformed(result.deformed_vertices_lps_mm)
        view.update_plan(window.session.case.plan, self.incision_paths)
        window.render_label.setText(f"Render: {view.render_time_ms:.0f} ms")

    def _show_deformed(self, deformed: dict[str, np.ndarray]) -> None:
        twin = self.window.session.case.twin
        for name in self._deformed - set(deformed):
            if name in twin.structures:
                self.window.view3d.set_deformed(name, twin.structure(name).surface.vertices_lps_mm)
        for name, vertices in deformed.items():
            if name in twin.structures:
                self.window.view3d.set_deformed(name, vertices)
        self._deformed = set(deformed)

    def shutdown(self) -> None:
        self.runner.shutdown()
