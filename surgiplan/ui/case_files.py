"""Case files in the app: open, sample case, save, save as, recent files, autosave, recovery.

Loading and saving run in the task runner (progress dialog, window modal); the unsaved-changes
question and the recovery offer are asked through replaceable callables so tests can answer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from surgiplan.case.case_file import has_recovery, load_case, recovery_path
from surgiplan.case.session import CaseSession
from surgiplan.sample_case import sample_case_file
from surgiplan.ui.welcome import RecentFiles, recovery_prompt

CASE_FILTER = "SurgiPlan cases (*.surgiplan)"


def _ask_discard(parent, reason: str) -> str:
    """Modal question: "save", "discard" or "cancel"."""
    box = QMessageBox(QMessageBox.Icon.Question, "SurgiPlan",
                      f"The case has unsaved changes. Save them before {reason}?",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(
        QMessageBox.StandardButton(answer), "cancel")


class CaseFiles(QObject):
    """File actions of one window.

    Attributes
    ----------
    ask_discard : callable
        ``(reason) -> "save" | "discard" | "cancel"`` when unsaved changes would be lost.
    ask_recover : callable
        ``(path) -> bool``: open the newer autosave of ``path`` instead of the file?
    ask_save_path : callable
        ``() -> Path | None``: where to save a case that has no file yet.
    """

    def __init__(self, window, recent: RecentFiles, *, autosave_ms: int = 120_000) -> None:
        super().__init__(window)
        self.window = window
        self.recent = recent
        self.ask_discard: Callable[[str], str] = lambda reason: _ask_discard(window, reason)
        self.ask_recover: Callable[[Path], bool] = lambda path: recovery_prompt(window, path)
        self.ask_save_path: Callable[[], Path | None] = self._choose_save_path
        self.autosave_dir = Path(tempfile.gettempdir())
        self.timer = QTimer(self, interval=max(autosave_ms, 1))
        self.timer.timeout.connect(self.autosave)
        if autosave_ms > 0:
            self.timer.start()
        window.welcome.set_recent(recent.paths())
        window.welcome.open_sample_requested.connect(self.open_sample)
        window.welcome.open_case_requested.connect(self.choose_case)
        window.welcome.open_recent_requested.connect(self.open_recent)

    # ---- opening ------------------------------------------------------------------------
    def choose_case(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open case", "", CASE_FILTER)
        if path:
            self.open_case(Path(path))

    def open_recent(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir():
            self.window.open_folder(path)
        else:
            self.open_case(path)

    def open_case(self, path: Path) -> None:
        """Open a ``.surgiplan`` file in a worker, offering its autosave when newer."""
        if not self.confirm_discard("opening another case"):
            return
        path = Path(path)
        recover = has_recovery(path) and self.ask_recover(path)
        source = recovery_path(path) if recover else path

        def work(progress):
            progress(0, 1, f"Opening {path.name}...")
            session = CaseSession(load_case(source), path)
            if recover:
                session.recovered = True
            return self.window.live.prepare(session, progress)

        self.window.runner.start(f"Opening {path.name}...", work,
                                 lambda prepared: self._opened(prepared, path),
                                 self.window.show_error, self.window.on_cancelled)

    def open_sample(self) -> None:
        """Open the bundled sample case (built once into the user cache: ~20 s)."""
        if not self.confirm_discard("opening the sample case"):
            return

        def work(progress):
            path = sample_case_file(progress=progress)
            session = CaseSession(load_case(path))  # unsaved: Save asks where
            session.case.provenance.add_step("open_sample")
            return self.window.live.prepare(session, progress)

        self.window.runner.start("Opening the sample case...", work,
                                 lambda prepared: self._opened(prepared, None),
                                 self.window.show_error, self.window.on_cancelled)

    def _opened(self, prepared, path: Path | None) -> None:
        self.window.case_view.show_session(prepared)
        if path is not None:
            self._remember(path)

    def _remember(self, path: Path) -> None:
        self.window.welcome.set_recent(self.recent.add(path))

    # ---- saving -------------------------------------------------------------------------
    def _choose_save_path(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save case", "case.surgiplan",
                                              CASE_FILTER)
        return Path(path) if path else None

    def save(self, *, on_done: Callable[[], None] | None = None) -> bool:
        """Save to the case's file (Save As when it has none); ``False`` if not started."""
        session = self.window.session
        if session is None:
            return False
        if session.path is None:
            return self.save_as(on_done=on_done)
        return self._save_to(session.path, on_done)

    def save_as(self, *, on_done: Callable[[], None] | None = None) -> bool:
        if self.window.session is None:
            return False
        path = self.ask_save_path()
        return path is not None and self._save_to(path, on_done)

    def _save_to(self, path: Path, on_done: Callable[[], None] | None) -> bool:
        session = self.window.session

        def saved(written: Path) -> None:
            self._remember(written)
            self.window.case_view.refresh_title()
            self.window.show_message(f"Saved {written}")
            if on_done is not None:
                on_done()

        return self.window.runner.start(f"Saving {Path(path).name}...",
                                        lambda _progress: session.save(path), saved,
                                        self.window.show_error, self.window.on_cancelled)

    def autosave(self) -> Path | None:
        """Write the recovery file of an unsaved session (not while a task runs)."""
        session = self.window.session
        if session is None or not session.dirty or self.window.runner.busy:
            return None
        try:
            return session.autosave(self.autosave_dir)
        except Exception as exc:  # noqa: BLE001 - autosave must never break the session
            self.window.show_message(f"Autosave failed: {exc}")
            return None

    def confirm_discard(self, reason: str, retry: Callable[[], None] | None = None) -> bool:
        """Whether it is fine to drop the current session (asks when it has changes).

        Answering "save" starts the save and returns ``False``; ``retry`` runs once it is
        saved (e.g. closing the window again).
        """
        session = self.window.session
        if session is None or not session.dirty:
            return True
        answer = self.ask_discard(reason)
        if answer == "save":
            self.save(on_done=retry)
            return False
        return answer == "discard"

    def offer_recovery(self) -> bool:
        """At start: offer the newest autosave of a recent or untitled case; opened?"""
        untitled = self.autosave_dir / "untitled.surgiplan"
        for path in [*self.recent.paths(), untitled]:
            if path.suffix == ".surgiplan" and has_recovery(path):
                if path == untitled and self.ask_recover(path):
                    self._open_untitled_recovery(untitled)
                    return True
                if path != untitled:
                    self.open_case(path)  # asks whether to recover
                    return True
        return False

    def _open_untitled_recovery(self, untitled: Path) -> None:
        def work(progress):
            session = CaseSession(load_case(recovery_path(untitled)))
            session.recovered = True
            return self.window.live.prepare(session, progress)

        self.window.runner.start("Recovering the unsaved case...", work,
                                 lambda prepared: self._opened(prepared, None),
                                 self.window.show_error, self.window.on_cancelled)

    def shutdown(self) -> None:
        self.timer.stop()
