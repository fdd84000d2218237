"""Undoable edits of a :class:`~surgiplan.twin.PatientTwin`: display, structure table, structures.

These commands share the plan's :class:`~surgiplan.plan.commands.UndoStack`, so one Undo
covers every change a user makes to a case. They ignore the ``plan`` argument the stack
passes and act on the twin they hold; each emits an :class:`~surgiplan.events.Event` on the
twin-edit emitter (collection ``"structures"``) so views refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from surgiplan.errors import InputError
from surgiplan.events import Event, EventEmitter
from surgiplan.plan.model import Plan
from surgiplan.twin.tissues import load_tissues
from surgiplan.twin.twin import DisplaySettings, PatientTwin, StructureModel

EDITABLE_FIELDS = ("tissue", "critical", "colour")


@dataclass
class SetDisplay:
    """Change one structure's colour, opacity or visibility (display only, data untouched)."""

    twin: PatientTwin
    events: EventEmitter
    name: str
    settings: DisplaySettings
    _old: DisplaySettings | None = field(default=None, init=False, repr=False)

    @property
    def text(self) -> str:
        return f"display of {self.name}"

    def do(self, plan: Plan) -> None:
        self.twin.structure(self.name)
        self._old = self.twin.display.get(self.name)
        self.twin.display[self.name] = replace(self.settings)
        self.events.emit(Event("display", "structures", self.name, self.settings))

    def undo(self, plan: Plan) -> None:
        if self._old is None:
            self.twin.display.pop(self.name, None)
        else:
            self.twin.display[self.name] = self._old
        self.events.emit(Event("display", "structures", self.name, self._old))


@dataclass
class EditStructure:
    """Change a structure's tissue type, critical flag or default colour."""

    twin: PatientTwin
    events: EventEmitter
    name: str
    changes: dict
    _old: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.changes) - set(EDITABLE_FIELDS))
        if unknown:
            raise InputError(f"cannot edit {', '.join(unknown)} of a structure "
                             f"(editable: {', '.join(EDITABLE_FIELDS)})")
        known = load_tissues()
        if "tissue" in self.changes and self.changes["tissue"] not in known:
            raise InputError(f"unknown tissue {self.changes['tissue']!r} "
                             f"(known: {', '.join(sorted(known))})")
        if "critical" in self.changes:
            self.changes["critical"] = bool(self.changes["critical"])

    @property
    def text(self) -> str:
        return f"edit {self.name} ({', '.join(sorted(self.changes))})"

    def _apply(self, values: dict) -> None:
        model = self.twin.structure(self.name)
        model.info = replace(model.info, **values)
        self.twin.labelmap.update(self.name, **values)
        self.events.emit(Event("changed", "structures", self.name, model))

    def do(self, plan: Plan) -> None:
        info = self.twin.structure(self.name).info
        self._old = {key: getattr(info, key) for key in self.changes}
        self._apply(self.changes)

    def undo(self, plan: Plan) -> None:
        self._apply(self._old)


@dataclass
class AddStructure:
    """Add a built structure (e.g. grown from a seed) to the twin and paint its label.

    Voxels it takes from other structures are given back on undo.
    """

    twin: PatientTwin
    events: EventEmitter
    model: StructureModel
    display: DisplaySettings | None = None
    _box_before: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def text(self) -> str:
        return f"add structure {self.model.name}"

    def do(self, plan: Plan) -> None:
        name = self.model.name
        if name in self.twin.structures:
            raise InputError(f"a structure named {name!r} already exists: choose another name")
        region = self.model.region
        self._box_before = self.twin.labelmap.labels[region.slices].copy()
        info = self.twin.labelmap.add(region, self.model.info)
        self.model.info = info
        self.twin.structures[name] = self.model
        self.twin.display[name] = self.display or DisplaySettings.default_for(info)
        self.events.emit(Event("added", "structures", name, self.model))

    def undo(self, plan: Plan) -> None:
        name = self.model.name
        labelmap = self.twin.labelmap
        labelmap.structures.remove(labelmap.structure(name))
        labelmap.labels[self.model.region.slices] = self._box_before
        self.twin.structures.pop(name, None)
        self.twin.display.pop(name, None)
        self.events.emit(Event("removed", "structures", name))

