"""Start the desktop application."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from surgiplan.ui.main_window import MainWindow


def run_app(folder: Path | None = None) -> int:
    """Open the main window (optionally scanning ``folder``) and run the event loop."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SurgiPlan")
    window = MainWindow()
    window.show()
    if folder is not None:
        window.open_folder(folder)
    return app.exec()
