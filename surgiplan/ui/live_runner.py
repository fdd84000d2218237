"""Debounced background work for live feedback: the latest request wins, the window never waits.

Moving an instrument with the mouse or the keys asks for a new check many times a second.
:class:`LiveRunner` waits ``debounce_ms`` for the moves to settle, runs the newest request in
a worker thread, drops requests superseded while one runs (only the newest is run next), and
reports each result with the latency from the first request it answers to its delivery on the
GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from surgiplan.errors import SurgiPlanError


class _Worker(QObject):
    done = Signal(int, object, str)

    @Slot(int, object)
    def run(self, ticket: int, work: Callable[[], Any]) -> None:
        try:
            self.done.emit(ticket, work(), "")
        except SurgiPlanError as exc:
            self.done.emit(ticket, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the window, never a crash
            self.done.emit(ticket, None, f"{type(exc).__name__}: {exc}")


class LiveRunner(QObject):
    """Runs the newest of a burst of requests off the GUI thread.

    Signals
    -------
    busy(bool)
        A request is waiting or running (True) or everything is answered (False).
    finished(object, float)
        The result of the newest request and the latency (ms) from the first request it
        answers to now.
    failed(str)
        The newest request raised; the message names the problem.
    """

    busy = Signal(bool)
    finished = Signal(object, float)
    failed = Signal(str)
    _dispatch = Signal(int, object)

    def __init__(self, parent: QObject | None = None, *, debounce_ms: int = 15) -> None:
        super().__init__(parent)
        self._thread = QThread(self)
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._dispatch.connect(self._worker.run)
        self._worker.done.connect(self._on_done)
        self._thread.start()
        self._timer = QTimer(self, singleShot=True, interval=debounce_ms)
        self._timer.timeout.connect(self._launch)
        self._pending: Callable[[], Any] | None = None
        self._running = False
        self._ticket = 0
        self._since: float | None = None

    @property
    def is_busy(self) -> bool:
        return self._running or self._pending is not None

    def request(self, work: Callable[[], Any]) -> None:
        """Ask for ``work()`` to run soon; replaces any request not yet started."""
        if self._since is None:
            self._since = time.perf_counter()
            self.busy.emit(True)
        self._pending = work
        if not self._running:
            self._timer.start()

    def _launch(self) -> None:
        if self._pending is None or self._running:
            return
        work, self._pending = self._pending, None
        self._running = True
        self._ticket += 1
        self._dispatch.emit(self._ticket, work)

    @Slot(int, object, str)
    def _on_done(self, ticket: int, result: object, error: str) -> None:
        self._running = False
        if self._pending is not None:  # superseded while running: run the newest now
            self._launch()
            return
        latency_ms = (time.perf_counter() - (self._since or time.perf_counter())) * 1000.0
        self._since = None
        self.busy.emit(False)
        if error:
            self.failed.emit(error)
        else:
            self.finished.emit(result, latency_ms)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop the worker thread (after the running request ends)."""
        self._timer.stop()
        self._pending = None
        self._thread.quit()
        self._thread.wait(timeout_ms)
