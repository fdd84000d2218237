"""Import a scan and build its twin from the app: DICOM folder, series, presets, seeds, labels.

Every step runs in the task runner (progress dialog with cancel); the structures it builds are
added through the case session, so each is one undo step.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog

from surgiplan.case.session import CaseSession
from surgiplan.case.structures import (
    empty_case,
    structure_from_preset,
    structure_from_seed,
    structures_from_labels,
)
from surgiplan.imaging import ScanResult, SeriesCandidate, load_series, scan_folder
from surgiplan.imaging.export import write_volume

LABEL_FILTER = "Label maps (*.nii *.nii.gz *.nrrd *.seg.nrrd)"


class TwinFlow(QObject):
    """The import and segmentation actions of one window."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        window.welcome.import_requested.connect(self.choose_folder)
        window.tools.seed_requested.connect(self.grow_seed)

    # ---- DICOM ---------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import DICOM folder")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in a worker and list its series in the series browser."""
        if not self.window.files.confirm_discard("importing another scan"):
            return
        self.window.runner.start(f"Scanning {folder.name}...",
                                 lambda progress: scan_folder(folder, progress=progress),
                                 self._scanned, self.window.show_error, self.window.on_cancelled)

    def _scanned(self, result: ScanResult) -> None:
        window = self.window
        window.scan_result = result
        window.series_panel.show_result(result)
        window.series_dock.show()
        window.series_dock.raise_()
        if not result.series:
            window.show_error(f"No DICOM images in {result.root}: {len(result.skipped)} file(s) "
                              "were not DICOM images. Choose the folder holding the scan.")
            return
        window.files.recent.add(result.root)
        window.welcome.set_recent(window.files.recent.paths())

    def import_series(self, candidate: SeriesCandidate) -> None:
        """Load ``candidate`` in a worker and start a new case on it."""
        source = str(self.window.scan_result.root) if self.window.scan_result else "DICOM"

        def work(progress):
            volume = load_series(candidate, progress=progress)
            session = CaseSession(empty_case(volume, source))
            return self.window.live.prepare(session, progress)

        self.window.runner.start(f"Importing series {candidate.index}...", work,
                                 self._imported, self.window.show_error,
                                 self.window.on_cancelled)

    def _imported(self, prepared) -> None:
        self.window.case_view.show_session(prepared)
        volume = prepared.session.case.volume
        notes = "; ".join(w.message for w in volume.warnings)
        self.window.show_message(f"Imported {volume!r}" + (f" ({notes})" if notes else ""))

    def export_volume(self, path: Path) -> None:
        """Write the current volume to ``path`` (.nii, .nii.gz or .nrrd) in a worker."""
        volume = self.window.volume
        if volume is None:
            return
        self.window.runner.start(f"Exporting {path.name}...",
                                 lambda _p: write_volume(volume, path),
                                 lambda written: self.window.show_message(f"Saved {written}"),
                                 self.window.show_error, self.window.on_cancelled)

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export volume", "volume.nii.gz",
                                              "Volumes (*.nii.gz *.nii *.nrrd)")
        if path:
            self.export_volume(Path(path))

    # ---- structures ---------------------------------------------------------------------
    def _add_models(self, models) -> None:
        session = self.window.session
        if session is None:
            return
        models = models if isinstance(models, list) else [models]
        for model in models:
            session.add_structure(model)
        self.window.show_message("Added " + ", ".join(model.name for model in models))

    def _run(self, title: str, work) -> None:
        session = self.window.session
        if session is None:
            self.window.show_error("import a scan or open a case first")
            return
        self.window.runner.start(title, lambda progress: work(session, progress),
                                 self._add_models, self.window.show_error,
                                 self.window.on_cancelled)

    def add_preset(self, name: str) -> None:
        """Segment preset ``name`` in a worker and add it as a structure."""
        self._run(f"Segmenting {name}...", lambda s, progress: structure_from_preset(
            s.case.volume, s.case.twin, name, progress=progress))

    def start_seed(self) -> None:
        """Ask for a name, then let the next click in a view be the seed."""
        name, ok = QInputDialog.getText(self.window, "Grow a structure",
                                        "Name of the structure (e.g. tumour, portal vein):")
        if ok and name.strip():
            self.window.case_view.start_tool("seed", name.strip())

    def grow_seed(self, name: str, point_lps_mm) -> None:
        """Grow ``name`` from a clicked point in a worker and add it."""
        self._run(f"Growing {name}...", lambda s, progress: structure_from_seed(
            s.case.volume, s.case.twin, name, point_lps_mm, progress=progress))

    def choose_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import label map", "", LABEL_FILTER)
        if path:
            self.import_labels(Path(path))

    def import_labels(self, path: Path) -> None:
        """Import a label map file in a worker and add each of its labels."""
        self._run(f"Importing {path.name}...", lambda s, progress: structures_from_labels(
            s.case.volume, s.case.twin, path, progress=progress))
