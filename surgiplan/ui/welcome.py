"""The start page (sample case, open, import, recent files) and the autosave recovery prompt."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from surgiplan.case.case_file import recovery_path

ORGANISATION = "SurgiPlan"
APPLICATION = "SurgiPlan"
RECENT_KEY = "recent/files"
RECENT_LIMIT = 10


class RecentFiles:
    """The recently opened cases and folders, newest first, kept in :class:`QSettings`.

    Parameters
    ----------
    settings : QSettings, optional
        Where to keep the list; the user's "SurgiPlan" settings when omitted.
    path : path, optional
        An INI file to keep the list in instead (tests, portable installs).
    limit : int
        How many entries are kept.
    """

    def __init__(self, settings: QSettings | None = None, *, path: str | os.PathLike | None = None,
                 limit: int = RECENT_LIMIT) -> None:
        if settings is None:
            settings = (QSettings(str(path), QSettings.Format.IniFormat) if path is not None
                        else QSettings(ORGANISATION, APPLICATION))
        self.settings = settings
        self.limit = limit

    def _stored(self) -> list[Path]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # INI files give back a one-entry list as a string
            value = [value] if value else []
        return [Path(v) for v in value or []]

    def _store(self, paths: list[Path]) -> None:
        self.settings.setValue(RECENT_KEY, [str(p) for p in paths])
        self.settings.sync()

    def paths(self) -> list[Path]:
        """The entries that still exist, newest first (missing ones are dropped for good)."""
        stored = self._stored()
        present = [p for p in stored if p.exists()][: self.limit]
        if present != stored:
            self._store(present)
        return present

    def add(self, path: str | os.PathLike) -> list[Path]:
        """Put ``path`` at the top (moving it if listed); return the list."""
        path = Path(path).absolute()
        paths = [path] + [p for p in self.paths() if p != path]
        self._store(paths[: self.limit])
        return self.paths()

    def remove(self, path: str | os.PathLike) -> list[Path]:
        """Take ``path`` off the list; return the list."""
        path = Path(path).absolute()
        self._store([p for p in self.paths() if p != path])
        return self.paths()

    def clear(self) -> None:
        """Forget every entry."""
        self._store([])


class WelcomeWidget(QWidget):
    """The start page.

    Signals
    -------
    open_sample_requested()
        Open the bundled sample case.
    open_case_requested()
        Choose a ``.surgiplan`` case file to open.
    import_requested()
        Choose a DICOM folder to import.
    open_recent_requested(Path)
        Open a recent case or folder (a click on its entry).
    """

    open_sample_requested = Signal()
    open_case_requested = Signal()
    import_requested = Signal()
    open_recent_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>SurgiPlan</h1><p>Plan an operation on the patient's own anatomy.</p>")
        self.sample_button = QPushButton("Open sample case")
        self.open_button = QPushButton("Open case...")
        self.import_button = QPushButton("Import DICOM folder...")
        self.sample_button.clicked.connect(self.open_sample_requested)
        self.open_button.clicked.connect(self.open_case_requested)
        self.import_button.clicked.connect(self.import_requested)
        self.recent_label = QLabel("Recent")
        self.recent_list = QListWidget()
        self.recent_list.itemClicked.connect(self._on_recent_clicked)
        self.empty_label = QLabel("No recent cases")
        buttons = QHBoxLayout()
        for button in (self.sample_button, self.open_button, self.import_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(buttons)
        for widget in (self.recent_label, self.recent_list, self.empty_label):
            layout.addWidget(widget)
        self.set_recent([])

    def set_recent(self, paths: list[Path]) -> None:
        """List ``paths`` (newest first): the name, with the full path as a tooltip."""
        self.recent_list.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    {Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, Path(path))
            item.setToolTip(str(path))
            self.recent_list.addItem(item)
        self.recent_list.setVisible(bool(paths))
        self.empty_label.setVisible(not paths)

    def recent_paths(self) -> list[Path]:
        """The paths listed, in order."""
        return [self.recent_list.item(n).data(Qt.ItemDataRole.UserRole)
                for n in range(self.recent_list.count())]

    def _on_recent_clicked(self, item: QListWidgetItem) -> None:
        self.open_recent_requested.emit(item.data(Qt.ItemDataRole.UserRole))


def recovery_box(parent: QWidget | None, path: str | os.PathLike) -> QMessageBox:
    """A (not yet shown) question: recover the autosave of case ``path``, or open it as saved?

    The box has a ``recover_button`` and a ``saved_button`` attribute; Escape or closing the
    box answers "open as saved". It deletes nothing: the caller decides what becomes of the
    autosave.
    """
    recovery = recovery_path(path)
    when = ""
    if recovery.exists():
        stamp = datetime.fromtimestamp(recovery.stat().st_mtime)
        when = f" (autosaved {stamp:%Y-%m-%d %H:%M})"
    box = QMessageBox(QMessageBox.Icon.Question, "SurgiPlan",
                      f"{Path(path).name} has unsaved work{when} from a session that did not "
                      "close properly. Recover it?", QMessageBox.StandardButton.NoButton, parent)
    box.setInformativeText("Recover opens the autosaved work; otherwise the case opens as it "
                           "was last saved.")
    box.recover_button = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    box.saved_button = box.addButton("Open saved version", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.recover_button)
    box.setEscapeButton(box.saved_button)
    return box


def ask_recovery(parent: QWidget | None, path: str | os.PathLike,
                 on_answer: Callable[[bool], None]) -> QMessageBox:
    """Ask without blocking; ``on_answer(True)`` to recover, ``on_answer(False)`` otherwise.

    Returns the open box (window-modal), e.g. for tests to click its buttons.
    """
    box = recovery_box(parent, path)
    box.buttonClicked.connect(lambda button: on_answer(button is box.recover_button))
    box.open()
    return box


def recovery_prompt(parent: QWidget | None, path: str | os.PathLike) -> bool:
    """Ask modally whether to recover the autosave of case ``path``; ``True`` to recover.

    Blocks in a local event loop until answered; closing the box answers ``False``.
    Prefer :func:`ask_recovery` where the caller can continue in a callback.
    """
    box = recovery_box(parent, path)
    box.exec()
    return box.clickedButton() is box.recover_button
