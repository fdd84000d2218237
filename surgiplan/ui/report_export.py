"""The app's "Export report..." action: choose the PDF and options, write it in the worker.

The window's File menu calls :meth:`ReportExport.choose`; the report itself is
:func:`surgiplan.report.write_report`, run in the window's task runner (progress dialog with
Cancel) on a snapshot of the open case, so editing may go on meanwhile.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
)

from surgiplan.errors import SurgiPlanError
from surgiplan.report import ReportOptions, check_output_paths, write_report
from surgiplan.ui.live_check import snapshot


class ReportOptionsDialog(QDialog):
    """Author, identifiers (off by default), and whether to write the HTML and the bundle."""

    def __init__(self, parent, author: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Report options")
        self.author = QLineEdit(author)
        self.identify = QCheckBox("Include patient identifiers (name, ID, birth date)")
        self.keep_face = QCheckBox("Keep the face surface of a head or neck scan (it can "
                                   "identify the patient)")
        self.html = QCheckBox("Also write the report as HTML")
        self.html.setChecked(True)
        self.bundle = QCheckBox("Also export meshes, label map, markups and plan JSON")
        self.bundle.setChecked(True)
        form = QFormLayout()
        form.addRow("Author", self.author)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for box in (self.identify, self.keep_face, self.html, self.bundle):
            layout.addWidget(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def options(self) -> ReportOptions:
        return ReportOptions(author=self.author.text().strip() or None,
                             identify=self.identify.isChecked(),
                             keep_face=self.keep_face.isChecked())


class ReportExport:
    """Controller of the report export for a main window (``window.session``,
    ``window.runner``, ``window.show_message``, ``window.show_error``)."""

    def __init__(self, window) -> None:
        self.window = window
        self.last_result = None

    def choose(self) -> None:
        """Ask for the PDF path and the options, then :meth:`export`."""
        session = self.window.session
        if session is None:
            self.window.show_error("open a case first: the report is made from an open case")
            return
        suggested = (session.path.with_suffix(".pdf") if session.path is not None
                     else Path("plan_report.pdf"))
        path, _ = QFileDialog.getSaveFileName(self.window, "Export plan report", str(suggested),
                                              "PDF (*.pdf)")
        if not path:
            return
        dialog = ReportOptionsDialog(self.window, session.case.provenance.author)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        pdf = Path(path) if path.lower().endswith(".pdf") else Path(path + ".pdf")
        self.export(pdf, dialog.options(), html=dialog.html.isChecked(),
                    bundle=dialog.bundle.isChecked())

    def export(self, pdf_path: Path, options: ReportOptions | None = None, *,
               html: bool = False, bundle: bool = False) -> bool:
        """Write the report of the open case to ``pdf_path`` in the task runner.

        ``html`` adds ``<name>.html`` beside it, ``bundle`` the export folder
        ``<name>-export``. Returns whether the task started (a task may be running).
        """
        session = self.window.session
        if session is None:
            self.window.show_error("open a case first: the report is made from an open case")
            return False
        pdf_path = Path(pdf_path)
        html_path = pdf_path.with_suffix(".html") if html else None
        bundle_dir = pdf_path.with_name(pdf_path.stem + "-export") if bundle else None
        try:
            check_output_paths(pdf_path, html_path)
        except SurgiPlanError as exc:
            self.window.show_error(str(exc))
            return False
        case = snapshot(session.case)
        options = options or ReportOptions()
        if options.case_title is None and session.path is not None:
            options = replace(options, case_title=session.path.name.removesuffix(".surgiplan"))

        def work(progress):
            return write_report(case, pdf_path, html_path=html_path, bundle_dir=bundle_dir,
                                options=options, progress=progress)

        return self.window.runner.start(f"Writing {pdf_path.name}...", work, self._written,
                                        self.window.show_error, self.window.on_cancelled)

    def _written(self, result) -> None:
        self.last_result = result
        extra = "" if result.html is None else f", {result.html.name}"
        if result.bundle is not None:
            extra += f", {result.bundle.folder.name}/"
        self.window.show_message(f"Report written: {result.pdf} ({result.pages} pages{extra})")
