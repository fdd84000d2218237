"""Start the desktop application."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from surgiplan.ui.main_window import MainWindow


def run_app(path: Path | None = None) -> int:
    """Open the main window and run the event loop.

    ``path`` is a case file (opened), a DICOM folder (scanned) or ``None`` (the welcome page;
    an autosave newer than its case is offered for recovery).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SurgiPlan")
    app.setOrganizationName("SurgiPlan")
    window = MainWindow()
    window.show()
    if path is None:
        window.files.offer_recovery()
    elif Path(path).is_dir():
        window.open_folder(Path(path))
    else:
        window.files.open_case(Path(path))
    return app.exec()
