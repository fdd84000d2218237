"""Run core functions in a worker thread with a progress dialog and a cancel button."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from surgiplan.errors import Cancelled, SurgiPlanError


class _Job(QObject):
    progressed = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, work: Callable[..., Any]) -> None:
        super().__init__()
        self._work = work
        self.stop = threading.Event()

    def progress(self, done: int, total: int, label: str) -> bool:
        self.progressed.emit(done, total, label)
        return not self.stop.is_set()

    @Slot()
    def run(self) -> None:
        try:
            self.succeeded.emit(self._work(self.progress))
        except Cancelled:
            self.cancelled.emit()
        except SurgiPlanError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self.failed.emit("not enough memory for this operation; close other programs")
        except Exception as exc:  # noqa: BLE001 - shown in a dialog, never a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()


class TaskRunner(QObject):
    """Runs one task at a time off the GUI thread, showing progress with a cancel button.

    ``work`` receives a progress callback ``(done, total, label) -> bool`` to pass to the core.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._thread: QThread | None = None
        self._job: _Job | None = None
        self._callbacks: tuple[Callable[..., None], ...] = ()
        self._outcome: tuple[int, tuple] | None = None
        self.dialog: QProgressDialog | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, title: str, work: Callable[..., Any], on_result: Callable[[Any], None],
              on_error: Callable[[str], None], on_cancel: Callable[[], None]) -> bool:
        """Start ``work`` unless a task is running; return whether it started."""
        if self.busy:
            return False
        self._job = job = _Job(work)
        self._thread = thread = QThread(self)
        job.moveToThread(thread)
        self.dialog = self._make_dialog(title, job)
        self._callbacks = (on_result, on_error, on_cancel)
        job.progressed.connect(self._on_progress)
        job.succeeded.connect(self._on_success)
        job.failed.connect(self._on_error)
        job.cancelled.connect(self._on_cancel)
        job.finished.connect(self._on_finished)
        thread.started.connect(job.run)
        self.busy_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running task to stop at its next progress step."""
        if self._job is not None:
            self._job.stop.set()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the worker thread ends (for shutdown)."""
        return self._thread.wait(timeout_ms) if self._thread is not None else True

    def _make_dialog(self, title: str, job: _Job) -> QProgressDialog:
        dialog = QProgressDialog(title, "Cancel", 0, 0, self._parent)
        dialog.setWindowTitle("SurgiPlan")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(job.stop.set)
        return dialog

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, label: str) -> None:
        if self.dialog is not None:
            self.dialog.setLabelText(label)
            self.dialog.setMaximum(total)
            self.dialog.setValue(done)

    # Relays: these slots belong to this GUI-thread object, so Qt queues them out of the worker.
    # The outcome is dispatched after clean-up, so a callback may start the next task.
    @Slot(object)
    def _on_success(self, value: object) -> None:
        self._outcome = (0, (value,))

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self._outcome = (1, (message,))

    @Slot()
    def _on_cancel(self) -> None:
        self._outcome = (2, ())

    @Slot()
    def _on_finished(self) -> None:
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread.deleteLater()
        if self._job is not None:
            self._job.deleteLater()
        self._thread, self._job = None, None
        self.busy_changed.emit(False)
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            which, args = outcome
            self._callbacks[which](*args)
