"""The debrief's tables: result header, metrics, events timeline, attempts compared, and the
progress chart (:func:`surgiplan.render.charts.progress_figure` on a Qt canvas)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from surgiplan.rehearsal.history import Attempt
from surgiplan.rehearsal.replay import PathComparison
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import RunEvent, SafetyMetric
from surgiplan.ui.headers import own_header

PASS_COLOUR = QColor("#2e7d32")
FAIL_COLOUR = QColor("#c62828")
SAFETY_NAMES = {"collisions": "Collisions", "critical_contacts": "Critical contacts",
                "tissue_damage": "Tissue damage", "excessive_force": "Excessive force"}
EVENT_KINDS = {"contact": "contact", "complication": "complication",
               "deformation_peak": "deformation peak"}
EVENT_COLUMNS = ("Time (s)", "Kind", "Structure", "Message")
METRIC_COLUMNS = ("Metric", "Value")
ATTEMPT_COLUMNS = ("Attempt", "Date", "Time (s)", "Path (mm)", "Tip error (mm)",
                   "Angle dev. (deg)", "Safety", "Composite")


def number(value: float | None, digits: int = 2, unit: str = "") -> str:
    """``value`` with ``digits`` decimals and its unit, ``"n/a"`` when undefined."""
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def make_table(columns: Sequence[str], stretch: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    own_header(table, Qt.Orientation.Vertical).hide()
    header = own_header(table, Qt.Orientation.Horizontal)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(list(columns).index(stretch), QHeaderView.ResizeMode.Stretch)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.clearSelection()
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, text in enumerate(cells):
            table.setItem(row, column, QTableWidgetItem(text))


class ResultHeader(QWidget):
    """The run's verdict: PASS/FAIL of every safety metric, each on its own, and the composite
    score, for information only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("")
        self.result_label = QLabel("")
        bold = QFont()
        bold.setBold(True)
        self.result_label.setFont(bold)
        self.composite_label = QLabel("")
        self.metric_labels: dict[str, QLabel] = {}
        self._metrics_row = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.result_label)
        layout.addLayout(top)
        layout.addLayout(self._metrics_row)
        layout.addWidget(self.composite_label)

    def show_run(self, run: RehearsalRun) -> None:
        self.title.setText(f"{run.instrument} ({run.instrument_type}), trainee {run.trainee}, "
                           f"{run.started[:16].replace('T', ' ')}")
        failed = sum(not m.passed for m in run.safety)
        self.result_label.setText(
            "PASS: every safety metric passed" if run.passed else
            f"FAIL: {failed} of {len(run.safety)} safety metrics failed")
        self.result_label.setStyleSheet(
            f"color: {(PASS_COLOUR if run.passed else FAIL_COLOUR).name()}")
        for label in self.metric_labels.values():
            self._metrics_row.removeWidget(label)
            label.deleteLater()
        self.metric_labels = {m.name: self._metric_label(m) for m in run.safety}
        self.composite_label.setText(
            f"Composite score {run.composite_score:.1f} / 100, for information only: "
            "every safety metric must pass on its own")

    def _metric_label(self, metric: SafetyMetric) -> QLabel:
        name = SAFETY_NAMES.get(metric.name, metric.name)
        label = QLabel(f"{name}: {verdict(metric.passed)} ({metric.count})")
        label.setToolTip(metric.detail)
        colour = PASS_COLOUR if metric.passed else FAIL_COLOUR
        label.setStyleSheet(f"color: white; background: {colour.name()}; padding: 2px 6px;")
        self._metrics_row.addWidget(label)
        return label


def metric_rows(run: RehearsalRun, comparison: PathComparison | None = None
                ) -> list[tuple[str, str]]:
    """The motion metrics of physics.md section 4, the largest distance of the tip to the
    planned approach (with ``comparison``), then each safety metric, as table text."""
    m = run.metrics
    rows = [
        ("Time T", number(m.time_s, 2, " s")),
        ("Path length L", number(m.path_length_mm, 1, " mm")),
        ("Angular path", number(m.angular_path_deg, 1, " deg")),
        ("Economy of motion (L_ideal / L)",
         f"{number(m.economy_of_motion, 3)} (ideal {number(m.ideal_path_length_mm, 1, ' mm')})"),
        ("Smoothness (LDLJ, higher is smoother)", number(m.smoothness_ldlj, 3)),
        ("Idle ratio (speed < 2 mm/s)", number(m.idle_ratio, 3)),
        ("Final tip error", number(m.tip_error_mm, 2, " mm")),
        ("Angular deviation", number(m.angular_deviation_deg, 2, " deg")),
    ]
    if comparison is not None:
        rows.append(("Largest distance to the planned approach",
                     number(comparison.max_distance_mm, 2, " mm")))
    for s in run.safety:
        worst = "" if s.worst is None else f", worst {s.worst:.3g} {s.unit}"
        rows.append((SAFETY_NAMES.get(s.name, s.name),
                     f"{verdict(s.passed)}: {s.count} ({s.detail}{worst})"))
    return rows


class EventsTable(QWidget):
    """The run's events by time; clicking one asks to replay from its time.

    Signals
    -------
    time_chosen(float)
        The time (s) of the event clicked.
    """

    time_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.events: list[RunEvent] = []
        self.table = make_table(EVENT_COLUMNS, "Message")
        self.table.clicked.connect(lambda index: self._choose(index.row()))
        self.table.activated.connect(lambda index: self._choose(index.row()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_events(self, events: Sequence[RunEvent]) -> None:
        self.events = sorted(events, key=lambda e: e.time_s)
        fill_table(self.table, [(f"{e.time_s:.2f}", EVENT_KINDS.get(e.kind, e.kind),
                            e.structure or "-", e.message) for e in self.events])

    def _choose(self, row: int) -> None:
        if 0 <= row < len(self.events):
            self.time_chosen.emit(float(self.events[row].time_s))


def attempt_row(attempt: Attempt) -> tuple[str, ...]:
    """One attempt as the attempts table shows it."""
    deviation = attempt.metrics.get("angular_deviation_deg")
    return (str(attempt.number), attempt.started[:16].replace("T", " "),
            number(attempt.time_s, 2), number(attempt.path_length_mm, 1),
            number(attempt.tip_error_mm, 2), number(deviation, 2), verdict(attempt.passed),
            f"{attempt.composite_score:.1f}")


class AttemptsTable(QWidget):
    """This trainee's attempts on this case, oldest first; the run shown in bold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attempts: list[Attempt] = []
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.table = make_table(ATTEMPT_COLUMNS, "Date")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.table)

    def set_attempts(self, attempts: Sequence[Attempt], current_run_id: str, note: str) -> None:
        self.attempts = list(attempts)
        self.note.setText(note)
        fill_table(self.table, [attempt_row(a) for a in self.attempts])
        safety = ATTEMPT_COLUMNS.index("Safety")
        for row, attempt in enumerate(self.attempts):
            item = self.table.item(row, safety)
            item.setForeground(QBrush(PASS_COLOUR if attempt.passed else FAIL_COLOUR))
            if attempt.run_id == current_run_id:
                for column in range(self.table.columnCount()):
                    cell = self.table.item(row, column)
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)


class ProgressChart(QWidget):
    """The progress figure of the attempts on a Qt canvas (replaced at each :meth:`show_runs`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure = None
        self.canvas = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def show_runs(self, runs: Sequence[RehearsalRun]) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

        from surgiplan.render.charts import progress_figure

        if self.canvas is not None:
            self._layout.removeWidget(self.canvas)
            self.canvas.deleteLater()
        self.figure = progress_figure(list(runs))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(160)
        self._layout.addWidget(self.canvas)
        self.canvas.draw_idle()
