"""Click tools of the app: seed a structure, draw an incision, place an instrument, measure.

A tool turns clicks (from a slice view or the 3D view, already converted to patient LPS mm)
into one call of the case session. Which tool is active, what it has collected and what to
click next are signalled so the window can show hints and previews; the computation stays in
the core.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from surgiplan.case.session import CaseSession
from surgiplan.errors import SurgiPlanError

MODES = ("navigate", "seed", "incision", "place", "measure")

_HINTS = {
    "navigate": "",
    "seed": "Click inside the structure to grow {name} from that point (Esc cancels)",
    "incision": "Click points on the {name}; Enter finishes the incision, Esc cancels",
    "place": "Click the entry point of the {name}, then its target (Esc cancels)",
    "measure": "Click the first point, then the second (Esc cancels)",
}


class PlanTools(QObject):
    """The active click tool and the points it has collected.

    Signals
    -------
    mode_changed(str)
        The active tool (one of :data:`MODES`).
    hint(str)
        What to click next ("" when navigating).
    points_changed(object)
        The points collected so far, (n, 3) float LPS mm (previews redraw from them).
    seed_requested(str, object)
        Grow structure ``name`` from the point (LPS mm); the window runs it in a worker.
    committed(str, str)
        A plan item was added: collection and id.
    error(str)
        A click could not be used; the message names why and what to do.
    """

    mode_changed = Signal(str)
    hint = Signal(str)
    points_changed = Signal(object)
    seed_requested = Signal(str, object)
    committed = Signal(str, str)
    error = Signal(str)

    def __init__(self, session_of: Callable[[], CaseSession | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session_of = session_of
        self.mode = "navigate"
        self.target = ""  # the structure name, seed name or instrument id the tool works with
        self.points: list[np.ndarray] = []

    # ---- starting and stopping ------------------------------------------------------------
    def start(self, mode: str, target: str = "") -> None:
        """Activate ``mode`` for ``target`` (structure to cut, seed name or instrument id)."""
        if mode not in MODES:
            raise ValueError(f"unknown tool {mode!r}")
        self.mode, self.target, self.points = mode, target, []
        self.mode_changed.emit(mode)
        self.hint.emit(_HINTS[mode].format(name=target.replace("_", " ") or "structure"))
        self.points_changed.emit(self._array())

    def cancel(self) -> None:
        """Drop the collected points and go back to navigating."""
        if self.mode != "navigate":
            self.start("navigate")

    def finish(self) -> None:
        """End a multi-point tool (the incision) and commit what it collected."""
        if self.mode == "incision":
            if len(self.points) < 2:
                self.error.emit("an incision needs at least two points on the skin: click more")
                return
            self._commit(lambda s: ("incisions", s.add_incision(self.target, self._array()).id))

    # ---- clicks ---------------------------------------------------------------------------
    def click(self, point_lps_mm, structure: str | None = None) -> None:
        """Use one click at ``point_lps_mm`` (LPS mm) on ``structure`` (None: a slice click)."""
        if self.mode == "navigate":
            return
        point = np.asarray(point_lps_mm, dtype=float).reshape(3)
        if self.mode == "seed":
            name = self.target
            self.start("navigate")
            self.seed_requested.emit(name, point)
            return
        if self.mode == "incision" and structure is not None and structure != self.target:
            self.error.emit(f"that click is on the {structure}, not the {self.target}: "
                            f"click on the {self.target}")
            return
        self.points.append(point)
        self.points_changed.emit(self._array())
        if self.mode == "place" and len(self.points) == 2:
            entry, target = self.points
            self._commit(lambda s: ("instruments",
                                    s.place_instrument(self.target, entry, target).id))
        elif self.mode == "measure" and len(self.points) == 2:
            self._commit(lambda s: ("measurements",
                                    s.add_measurement("point_point", self._array()).id))
        elif self.mode == "place":
            self.hint.emit(f"Now click the target of the {self.target.replace('_', ' ')}")

    def _array(self) -> np.ndarray:
        return np.array(self.points, dtype=float).reshape(-1, 3)

    def _commit(self, action: Callable[[CaseSession], tuple[str, str]]) -> None:
        session = self._session_of()
        if session is None:
            self.error.emit("open or create a case first")
            self.start("navigate")
            return
        try:
            collection, item_id = action(session)
        except SurgiPlanError as exc:
            self.points = self.points[:-1]  # let the user re-click the last point
            self.points_changed.emit(self._array())
            self.error.emit(str(exc))
            return
        self.start("navigate")
        self.committed.emit(collection, item_id)
