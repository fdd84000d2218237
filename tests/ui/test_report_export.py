"""The app's report export: written in the task runner from the open sample case."""

from __future__ import annotations

from surgiplan.report import ReportOptions
from surgiplan.ui.report_export import ReportExport, ReportOptionsDialog


def test_export_writes_the_report_of_the_open_case(qtbot, sample_window, tmp_path):
    messages: list[str] = []
    errors: list[str] = []
    sample_window.show_message = lambda text, timeout_ms=8000: messages.append(text)
    sample_window.show_error = errors.append
    export = ReportExport(sample_window)
    pdf = tmp_path / "plan.pdf"
    assert export.export(pdf, ReportOptions(author="Dr Qt", picture_size=(320, 240)),
                         html=True, bundle=True)
    qtbot.waitUntil(lambda: bool(errors) or any(m.startswith("Report written") for m in messages),
                    timeout=300_000)
    assert not errors, errors
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "plan.html").is_file() and (tmp_path / "plan-export" / "twin.glb").is_file()
    assert f"Report written: {pdf} ({export.last_result.pages} pages, plan.html, plan-export/)" \
        in messages
    assert export.last_result.model.cover.author == "Dr Qt"
    assert len(export.last_result.model.instruments) == len(
        sample_window.session.case.plan.instruments)


def test_export_refuses_a_bad_path_with_a_message(qtbot, sample_window, tmp_path):
    errors: list[str] = []
    sample_window.show_error = errors.append
    assert not ReportExport(sample_window).export(tmp_path / "missing" / "plan.pdf")
    assert errors and "does not exist" in errors[0]
    assert not sample_window.runner.busy


def test_export_without_a_case_asks_to_open_one(qtbot, main_window, tmp_path):
    errors: list[str] = []
    main_window.show_error = errors.append
    assert not ReportExport(main_window).export(tmp_path / "plan.pdf")
    assert errors == ["open a case first: the report is made from an open case"]


def test_options_dialog_leaves_identifiers_out_by_default(qtbot, main_window):
    dialog = ReportOptionsDialog(main_window, "Dr Default")
    qtbot.addWidget(dialog)
    assert dialog.options() == ReportOptions(author="Dr Default", identify=False)
    dialog.identify.setChecked(True)
    assert dialog.options().identify
    assert dialog.html.isChecked() and dialog.bundle.isChecked()


def test_file_menu_export_report_asks_then_writes(qtbot, sample_window, tmp_path, monkeypatch):
    """File > Export report (PDF)...: the path and options dialogs, then the PDF in a worker."""
    from PySide6.QtWidgets import QDialog

    import surgiplan.ui.report_export as module

    target = tmp_path / "from-menu"  # no suffix typed: .pdf is added
    monkeypatch.setattr(module.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(target), "PDF (*.pdf)")))

    def accept(dialog):
        dialog.html.setChecked(False)
        dialog.bundle.setChecked(False)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(module.ReportOptionsDialog, "exec", accept)
    action = sample_window.menus.report_action
    assert action.isEnabled() and "report" in action.text().lower()
    action.trigger()
    pdf = tmp_path / "from-menu.pdf"
    qtbot.waitUntil(lambda: sample_window.report_export.last_result is not None, timeout=300_000)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert not (tmp_path / "from-menu.html").exists()
    assert not (tmp_path / "from-menu-export").exists()
