"""GUI tests drive the real widgets on a virtual X display (pytest-xvfb starts Xvfb)."""

from __future__ import annotations

import os
import shutil

import pytest

if (not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM")
        and shutil.which("Xvfb") is None):
    # pytest-xvfb starts Xvfb and sets DISPLAY (possibly after this file is imported, when
    # pytest is run on tests/ui alone); only without Xvfb would Qt abort, so fall back then.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


@pytest.fixture
def main_window(qtbot, tmp_path):
    """The real main window; questions answered "discard" / "no", recent files in tmp_path."""
    from surgiplan.ui.main_window import MainWindow
    from surgiplan.ui.welcome import RecentFiles

    window = MainWindow(recent=RecentFiles(path=tmp_path / "recent.ini"), autosave_ms=0,
                        history_path=tmp_path / "history.sqlite")
    window.files.ask_discard = lambda _reason: "discard"
    window.files.ask_recover = lambda _path: False
    window.files.autosave_dir = tmp_path
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.runner.cancel()
    window.runner.wait()


@pytest.fixture
def sample_window(qtbot, main_window):
    """The main window with the sample case open and checked."""
    main_window.files.open_sample()
    qtbot.waitUntil(lambda: main_window.session is not None, timeout=180_000)
    qtbot.waitUntil(lambda: not main_window.runner.busy and not main_window.live.runner.is_busy,
                    timeout=180_000)
    return main_window
