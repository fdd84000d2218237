"""GUI tests drive the real widgets on a virtual X display (pytest-xvfb starts Xvfb)."""

from __future__ import annotations

import os

import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
    # pytest-xvfb sets DISPLAY when Xvfb is installed; without either, Qt would abort.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


@pytest.fixture
def main_window(qtbot):
    from surgiplan.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.runner.cancel()
    window.runner.wait()
