"""The SurgiPlan main window: open a DICOM folder, pick a series, view and export the volume."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from surgiplan.imaging import ScanResult, SeriesCandidate, Volume, load_series, scan_folder
from surgiplan.imaging.export import write_volume
from surgiplan.render.slices import Plane, presets_for
from surgiplan.ui.series_panel import SeriesPanel
from surgiplan.ui.slice_view import SliceView
from surgiplan.ui.workers import TaskRunner


class MainWindow(QMainWindow):
    """Gathers input, runs the core in a worker, and shows the results."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("SurgiPlan")
        self.resize(1280, 800)
        self.volume: Volume | None = None
        self.scan_result: ScanResult | None = None
        self.error_box: QMessageBox | None = None
        self.runner = TaskRunner(self)
        self.series_panel = SeriesPanel()
        self.series_panel.import_requested.connect(self.import_series)
        dock = QDockWidget("Series", self)
        dock.setWidget(self.series_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.views = {plane: SliceView(plane) for plane in Plane}
        central = QWidget()
        layout = QHBoxLayout(central)
        for view in self.views.values():
            view.hovered.connect(self._on_hover)
            layout.addWidget(view)
        self.setCentralWidget(central)
        self.window_combo = QComboBox()
        self.window_combo.currentIndexChanged.connect(self._on_window_changed)
        self.cursor_label = QLabel("")
        self.statusBar().addPermanentWidget(QLabel("Window:"))
        self.statusBar().addPermanentWidget(self.window_combo)
        self.statusBar().addWidget(self.cursor_label)
        self._build_menu()

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open DICOM folder...", self, shortcut=QKeySequence.Open)
        self.open_action.triggered.connect(self._choose_folder)
        self.export_action = QAction("&Export volume...", self, enabled=False)
        self.export_action.triggered.connect(self._choose_export)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        for action in (self.open_action, self.export_action, quit_action):
            menu.addAction(action)

    # ---- user actions -------------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if folder:
            self.open_folder(Path(folder))

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export volume", "volume.nii.gz",
                                              "Volumes (*.nii.gz *.nii *.nrrd)")
        if path:
            self.export_volume(Path(path))

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in a worker and list its series."""
        self.runner.start(f"Scanning {folder.name}...",
                          lambda progress: scan_folder(folder, progress=progress),
                          self._on_scanned, self.show_error, self._on_cancelled)

    def import_series(self, candidate: SeriesCandidate) -> None:
        """Load ``candidate`` in a worker and show it."""
        self.runner.start(f"Importing series {candidate.index}...",
                          lambda progress: load_series(candidate, progress=progress),
                          self._on_loaded, self.show_error, self._on_cancelled)

    def export_volume(self, path: Path) -> None:
        """Write the current volume to ``path`` (.nii, .nii.gz or .nrrd) in a worker."""
        volume = self.volume
        if volume is None:
            return
        self.runner.start(f"Exporting {path.name}...", lambda _p: write_volume(volume, path),
                          lambda written: self.statusBar().showMessage(f"Saved {written}", 8000),
                          self.show_error, self._on_cancelled)

    # ---- results ------------------------------------------------------------------------
    def _on_scanned(self, result: ScanResult) -> None:
        self.scan_result = result
        self.series_panel.show_result(result)
        if not result.series:
            self.show_error(f"No DICOM images in {result.root}: {len(result.skipped)} file(s) "
                            "were not DICOM images. Choose the folder holding the scan.")

    def _on_loaded(self, volume: Volume) -> None:
        self.volume = volume
        presets = presets_for(volume)
        self.window_combo.blockSignals(True)
        self.window_combo.clear()
        for preset in presets:
            self.window_combo.addItem(preset.name, preset)
        self.window_combo.blockSignals(False)
        for view in self.views.values():
            view.set_volume(volume, presets[0])
        self.export_action.setEnabled(True)
        notes = "; ".join(w.message for w in volume.warnings)
        self.statusBar().showMessage(f"Imported {volume!r}" + (f" ({notes})" if notes else ""))

    def _on_window_changed(self, index: int) -> None:
        preset = self.window_combo.itemData(index)
        if preset is not None:
            for view in self.views.values():
                view.set_window(preset)

    def _on_hover(self, i: int, j: int, k: int) -> None:
        if self.volume is None:
            return
        x, y, z = self.volume.ijk_to_lps([[i, j, k]])[0]
        value = float(self.volume.voxels[k, j, i])
        unit = "HU" if self.volume.modality == "CT" else ""
        self.cursor_label.setText(f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm   {value:.0f} {unit}")

    def _on_cancelled(self) -> None:
        self.statusBar().showMessage("Cancelled", 5000)

    def show_error(self, message: str) -> None:
        """Show a problem and the way out in a (non-blocking) dialog."""
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, "SurgiPlan", message,
                                     QMessageBox.StandardButton.Ok, self)
        self.error_box.open()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.runner.cancel()
        self.runner.wait()
        super().closeEvent(event)
