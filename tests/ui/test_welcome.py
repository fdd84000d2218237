"""The start page, the recent-files list and the recovery prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from surgiplan.ui.welcome import (
    RecentFiles,
    WelcomeWidget,
    ask_recovery,
    recovery_box,
    recovery_prompt,
)


@pytest.fixture
def welcome(qtbot):
    widget = WelcomeWidget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _files(tmp_path, count):
    paths = []
    for n in range(count):
        path = tmp_path / f"case{n}.surgiplan"
        path.write_bytes(b"x")
        paths.append(path)
    return paths


@pytest.mark.parametrize(("button", "signal"), [
    ("sample_button", "open_sample_requested"),
    ("open_button", "open_case_requested"),
    ("import_button", "import_requested"),
])
def test_buttons_emit_their_requests(qtbot, welcome, button, signal):
    assert getattr(welcome, button).text() in (
        "Open sample case", "Open case...", "Import DICOM folder...")
    with qtbot.waitSignal(getattr(welcome, signal)):
        qtbot.mouseClick(getattr(welcome, button), Qt.MouseButton.LeftButton)


def test_recent_list_click_emits_the_path(qtbot, welcome, tmp_path):
    assert welcome.empty_label.isVisible() and not welcome.recent_list.isVisible()
    paths = _files(tmp_path, 3)
    welcome.set_recent(paths)
    assert welcome.recent_paths() == paths
    assert not welcome.empty_label.isVisible()
    assert welcome.recent_list.item(1).toolTip() == str(paths[1])
    rect = welcome.recent_list.visualItemRect(welcome.recent_list.item(1))
    with qtbot.waitSignal(welcome.open_recent_requested) as blocker:
        qtbot.mouseClick(welcome.recent_list.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    assert blocker.args == [paths[1]]
    welcome.set_recent([])
    assert welcome.recent_list.count() == 0 and welcome.empty_label.isVisible()


def test_recent_files_newest_first_moved_to_top_and_limited(tmp_path):
    recent = RecentFiles(path=tmp_path / "settings.ini")
    paths = _files(tmp_path, 12)
    for path in paths:
        recent.add(path)
    assert recent.paths() == paths[::-1][:10]
    assert recent.add(paths[5]) == [paths[5]] + [p for p in paths[::-1][:10] if p != paths[5]]
    # another instance on the same file sees the same list (it is stored, not cached)
    assert RecentFiles(path=tmp_path / "settings.ini").paths()[0] == paths[5]
    assert recent.remove(paths[5])[0] == paths[11]
    recent.clear()
    assert recent.paths() == []


def test_recent_files_drop_missing_files_and_keep_one_entry(tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    recent = RecentFiles(settings, limit=3)
    first, second = _files(tmp_path, 2)
    recent.add(first)
    assert RecentFiles(path=tmp_path / "s.ini").paths() == [first]  # one entry reads back
    recent.add(second)
    second.unlink()
    assert recent.paths() == [first]
    assert RecentFiles(path=tmp_path / "s.ini").paths() == [first]  # dropped for good
    recent.add(tmp_path / "." / first.name)  # the same file named another way
    assert recent.paths() == [first]


def test_recent_files_default_to_the_surgiplan_organisation(qtbot, tmp_path):
    # user settings of this test process go to tmp_path, never to the real ~/.config
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    recent = RecentFiles()
    assert recent.settings.organizationName() == "SurgiPlan"
    recent.add(_files(tmp_path, 1)[0])
    assert recent.paths() and Path(recent.settings.fileName()).is_relative_to(tmp_path)
    recent.clear()


def _case_with_autosave(tmp_path) -> Path:
    case = tmp_path / "liver.surgiplan"
    case.write_bytes(b"saved")
    (tmp_path / "liver.surgiplan.recovery").write_bytes(b"autosaved")
    return case


def test_recovery_box_names_the_case_and_when(qtbot, tmp_path):
    box = recovery_box(None, _case_with_autosave(tmp_path))
    qtbot.addWidget(box)
    assert "liver.surgiplan" in box.text() and "autosaved 20" in box.text()
    assert box.defaultButton() is box.recover_button
    assert box.escapeButton() is box.saved_button


@pytest.mark.parametrize(("button", "expected"), [("recover_button", True),
                                                  ("saved_button", False)])
def test_ask_recovery_answers_through_the_callback(qtbot, tmp_path, button, expected):
    answers = []
    box = ask_recovery(None, _case_with_autosave(tmp_path), answers.append)
    qtbot.addWidget(box)
    assert box.isVisible() and answers == []
    qtbot.mouseClick(getattr(box, button), Qt.MouseButton.LeftButton)
    assert answers == [expected]
    assert (tmp_path / "liver.surgiplan.recovery").exists()  # the prompt deletes nothing


def test_ask_recovery_escape_opens_the_saved_version(qtbot, tmp_path):
    answers = []
    box = ask_recovery(None, _case_with_autosave(tmp_path), answers.append)
    qtbot.addWidget(box)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert answers == [False]


def test_blocking_prompt_returns_the_answer(qtbot, tmp_path):
    case = _case_with_autosave(tmp_path)
    clicked = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        clicked.append(box)
        box.recover_button.click()

    QTimer.singleShot(0, answer)
    assert recovery_prompt(None, case) is True
    assert clicked and clicked[0] is not None
