"""The SurgiPlan main window: welcome page, 4-up views, panels, status bar.

The window only assembles widgets and routes signals; the controllers beside it do the work:
:mod:`~surgiplan.ui.case_files` (open, save, recent files, autosave, recovery),
:mod:`~surgiplan.ui.twin_flow` (import DICOM, presets, seeds, label maps),
:mod:`~surgiplan.ui.case_view` (showing the case and applying edits through the session),
:mod:`~surgiplan.ui.live_check` (collision, deformation and rules after every edit) and
:mod:`~surgiplan.ui.rehearsal_mode` (driving, sampling and scoring a rehearsal).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
)

from surgiplan.case.session import CaseSession
from surgiplan.imaging import ScanResult, SeriesCandidate, Volume
from surgiplan.rehearsal.history import default_history_path
from surgiplan.render.slices import presets_for
from surgiplan.ui.case_files import CaseFiles
from surgiplan.ui.case_view import CaseView
from surgiplan.ui.complications_panel import ComplicationsPanel
from surgiplan.ui.debrief import install_debrief
from surgiplan.ui.instruments_panel import InstrumentsPanel
from surgiplan.ui.layout import ViewLayout
from surgiplan.ui.live_check import LiveCheck
from surgiplan.ui.menus import build_menus
from surgiplan.ui.plan_tools import PlanTools
from surgiplan.ui.rehearsal_mode import RehearsalMode
from surgiplan.ui.report_export import ReportExport
from surgiplan.ui.series_panel import SeriesPanel
from surgiplan.ui.structures_panel import StructuresPanel
from surgiplan.ui.twin_flow import TwinFlow
from surgiplan.ui.view3d import View3D
from surgiplan.ui.welcome import RecentFiles, WelcomeWidget
from surgiplan.ui.workers import TaskRunner

WELCOME_PAGE, VIEWS_PAGE = 0, 1


class MainWindow(QMainWindow):
    """Gathers input, runs the core in workers, and shows the case.

    Parameters
    ----------
    recent : RecentFiles, optional
        Where recent files are remembered (tests pass one on a temporary file).
    autosave_ms : int
        Autosave interval while there are unsaved changes (0 disables it).
    history_path : Path, optional
        The rehearsal attempt history (SQLite); default
        :func:`~surgiplan.rehearsal.history.default_history_path`.
    """

    def __init__(self, *, recent: RecentFiles | None = None, autosave_ms: int = 120_000,
                 history_path: Path | None = None) -> None:
        super().__init__()
        self.history_path: Path = Path(history_path or default_history_path())
        self.setWindowTitle("SurgiPlan")
        self.resize(1400, 900)
        self.session: CaseSession | None = None
        self.volume: Volume | None = None
        self.scan_result: ScanResult | None = None
        self.error_box: QMessageBox | None = None
        self.runner = TaskRunner(self)
        self._build_views()
        self._build_docks()
        self._build_status_bar()
        self.tools = PlanTools(lambda: self.session, self)
        self.live = LiveCheck(self)
        self.case_view = CaseView(self)
        self.files = CaseFiles(self, recent or RecentFiles(), autosave_ms=autosave_ms)
        self.twin_flow = TwinFlow(self)
        self.report_export = ReportExport(self)
        self.rehearsal = RehearsalMode(self)
        self.debrief = install_debrief(self)
        build_menus(self)
        self._connect()
        self.setAcceptDrops(True)

    # ---- construction -------------------------------------------------------------------
    def _build_views(self) -> None:
        self.view3d = View3D()
        self.view_layout = ViewLayout(self.view3d)
        self.views = self.view_layout.views
        self.welcome = WelcomeWidget()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.view_layout)
        self.setCentralWidget(self.pages)

    def _dock(self, title: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.series_panel = SeriesPanel()
        self.structures_panel = StructuresPanel()
        self.instruments_panel = InstrumentsPanel()
        self.complications_panel = ComplicationsPanel()
        self.series_dock = self._dock("Series", self.series_panel, left)
        self.structures_dock = self._dock("Structures", self.structures_panel, left)
        self.tabifyDockWidget(self.series_dock, self.structures_dock)
        self.instruments_dock = self._dock("Plan", self.instruments_panel, right)
        self.complications_dock = self._dock("Complications", self.complications_panel,
                                             Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([self.complications_dock], [140], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.window_combo = QComboBox()
        self.window_combo.currentIndexChanged.connect(self._on_window_changed)
        self.cursor_label = QLabel("")
        self.hint_label = QLabel("")
        self.physics_label = QLabel("Simulation: -")
        self.render_label = QLabel("Render: -")
        bar = self.statusBar()
        bar.addWidget(self.cursor_label)
        bar.addWidget(self.hint_label, 1)
        for widget in (self.physics_label, self.render_label, QLabel("Window:"),
                       self.window_combo):
            bar.addPermanentWidget(widget)

    def _connect(self) -> None:
        for view in self.views.values():
            view.hovered.connect(self._on_hover)
        self.view_layout.window_changed.connect(self._on_window_dragged)
        self.series_panel.import_requested.connect(self.import_series)
        self.tools.hint.connect(self.hint_label.setText)
        self.tools.error.connect(self.show_error)

    # ---- the volume and its window ------------------------------------------------------
    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in a worker and list its series (see :class:`TwinFlow`)."""
        self.twin_flow.open_folder(Path(folder))

    def import_series(self, candidate: SeriesCandidate) -> None:
        """Load ``candidate`` in a worker and start a case on it."""
        self.twin_flow.import_series(candidate)

    def export_volume(self, path: Path) -> None:
        """Write the current volume to ``path`` (.nii, .nii.gz or .nrrd) in a worker."""
        self.twin_flow.export_volume(Path(path))

    def show_volume(self, volume: Volume) -> None:
        """Show ``volume`` in the slice views with its window presets."""
        self.volume = volume
        presets = presets_for(volume)
        self.window_combo.blockSignals(True)
        self.window_combo.clear()
        for preset in presets:
            self.window_combo.addItem(preset.name, preset)
        self.window_combo.blockSignals(False)
        self.view_layout.set_volume(volume, presets[0])
        self.pages.setCurrentIndex(VIEWS_PAGE)

    def _on_window_changed(self, index: int) -> None:
        preset = self.window_combo.itemData(index)
        if preset is not None:
            self.view_layout.set_window(preset)

    def _on_window_dragged(self, window) -> None:
        self.window_combo.blockSignals(True)
        if self.window_combo.findText(window.name) < 0:
            self.window_combo.addItem(window.name, window)
        index = self.window_combo.findText(window.name)
        self.window_combo.setItemData(index, window)
        self.window_combo.setCurrentIndex(index)
        self.window_combo.blockSignals(False)

    def _on_hover(self, i: int, j: int, k: int) -> None:
        if self.volume is None:
            return
        x, y, z = self.volume.ijk_to_lps([[i, j, k]])[0]
        value = float(self.volume.voxels[k, j, i])
        unit = "HU" if self.volume.modality == "CT" else ""
        self.cursor_label.setText(f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm   {value:.0f} {unit}")

    # ---- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A dropped folder is scanned, a case file opened, a label map imported."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    def open_path(self, path: Path) -> None:
        """Open whatever ``path`` is: DICOM folder, ``.surgiplan`` case or label map."""
        name = path.name.lower()
        if path.is_dir():
            self.open_folder(path)
        elif name.endswith(".surgiplan"):
            self.files.open_case(path)
        elif name.endswith((".nii", ".nii.gz", ".nrrd")) and self.session is not None:
            self.twin_flow.import_labels(path)
        else:
            self.show_error(f"cannot open {path.name}: drop a DICOM folder, a .surgiplan case "
                            "or (with a case open) a label map (.nii, .nii.gz, .nrrd)")

    # ---- messages -----------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Show a problem and the way out in a (non-blocking) dialog."""
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, "SurgiPlan", message,
                                     QMessageBox.StandardButton.Ok, self)
        self.error_box.open()

    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def on_cancelled(self) -> None:
        self.show_message("Cancelled", 5000)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.files.confirm_discard("closing"):
            event.ignore()
            return
        self.rehearsal.shutdown()
        self.runner.cancel()
        self.runner.wait()
        self.live.shutdown()
        self.case_view.shutdown()
        self.files.shutdown()
        self.view3d.shutdown()
        super().closeEvent(event)
