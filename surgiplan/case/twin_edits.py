"""Undoable edits of a :class:`~surgiplan.twin.PatientTwin`: display, structure table, structures.

These commands share the plan's :class:`~surgiplan.plan.commands.UndoStack`, so one Undo
covers every change a user makes to a case. They act on the twin they hold (only
:class:`RenameStructure` also edits the ``plan`` the stack passes: the plan names structures);
each emits an :class:`~surgiplan.events.Event` on the twin-edit emitter (collection
``"structures"``) so views refresh.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.events import Event, EventEmitter
from surgiplan.plan.model import Incision, Measurement, Plan
from surgiplan.twin.tissues import load_tissues
from surgiplan.twin.twin import DisplaySettings, PatientTwin, StructureModel

EDITABLE_FIELDS = ("tissue", "critical", "colour")

NAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?")
"""Names a structure may be given (:class:`RenameStructure`): 1 to 64 ASCII letters, digits,
``_``, ``-`` and ``.``, beginning and ending with a letter or a digit. Such a name is its own
file name (:func:`surgiplan.twin.outputs.safe_name` leaves it unchanged, so exported meshes
are called after it), a single word in a 3D Slicer colour table (``label name R G B A``) and
a plain value in a ``.seg.nrrd`` header; no path separator, space, quote or control
character can reach a file name, the label map or a report."""
RESERVED_FILE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)])
"""Names Windows refuses as file names (with any extension): exports of them would fail."""
BODY_OUTLINE = "skin"
"""The body outline, which planning finds by this name (skin entry points, entry angles,
incisions drawn with Ctrl+K, growing inside the body): it keeps its name."""


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



def check_new_name(twin: PatientTwin, old: str, new: str) -> None:
    """Refuse renaming structure ``old`` of ``twin`` to ``new`` unless every rule holds.

    Raises
    ------
    InputError
        ``old`` is unknown or is the body outline; ``new`` is empty, breaks
        :data:`NAME_PATTERN`, is reserved by Windows, or is already used by another structure
        (ignoring case: ``Liver`` and ``liver`` would share a file on macOS and Windows).
    """
    twin.structure(old)
    if old == BODY_OUTLINE:
        raise InputError(f"{BODY_OUTLINE!r} is the body outline planning finds by name (skin "
                         "entry points, incisions): it keeps its name; rename other structures")
    if not new:
        raise InputError(f"a structure needs a name: type a new name for {old!r}")
    if not NAME_PATTERN.fullmatch(new):
        raise InputError(f"{new!r} cannot name a structure: use 1 to 64 letters, digits, '_', "
                         "'-' or '.', beginning and ending with a letter or digit "
                         "(e.g. portal_vein_main)")
    if new.split(".")[0].lower() in RESERVED_FILE_NAMES:
        raise InputError(f"{new!r} is a reserved file name on Windows: choose another name")
    clash = [name for name in twin.structures
             if name != old and name.lower() == new.lower()]
    if clash:
        raise InputError(f"a structure named {clash[0]!r} already exists: choose another name")


def _renamed_keys(mapping: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``mapping`` with key ``old`` called ``new``, in the same order."""
    return {new if key == old else key: value for key, value in mapping.items()}


def _renamed_thresholds(thresholds: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """Threshold overrides with ``per_structure`` entries of ``old`` moved to ``new``.

    Raises
    ------
    InputError
        When a rule already has a ``per_structure`` entry for ``new``.
    """
    renamed = copy.deepcopy(thresholds)
    for rule_id, entry in renamed.items():
        per = entry.get("per_structure") if isinstance(entry, dict) else None
        if not per or old not in per:
            continue
        if new in per:
            raise InputError(f"the plan's thresholds of {rule_id} already have an entry for "
                             f"{new!r}: remove it (Plan > Thresholds) or choose another name")
        entry["per_structure"] = _renamed_keys(per, old, new)
    return renamed


@dataclass
class RenameStructure:
    """Give a structure a new name everywhere it is named, as one undo step.

    Renamed: the twin's ``structures`` key (same position) and the model's
    :class:`StructureInfo`, the label map's table entry, the ``display`` key, the plan's
    incisions drawn on it, measurements naming it and ``per_structure`` threshold overrides.
    Recorded rehearsal runs keep the names they were recorded with (they are history).
    The model is replaced by a renamed copy (live checks may hold the old one); undo puts
    back the very objects and tables it replaced.

    Emits ``Event("renamed", "structures", <name now>, <name before>)``.
    """

    twin: PatientTwin
    events: EventEmitter
    old: str
    new: str
    _saved: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def text(self) -> str:
        return f"rename {self.old} to {self.new}"

    def do(self, plan: Plan) -> None:
        check_new_name(self.twin, self.old, self.new)
        thresholds = _renamed_thresholds(plan.thresholds, self.old, self.new)
        twin, labelmap = self.twin, self.twin.labelmap
        model = twin.structures[self.old]
        info = labelmap.structure(self.old)
        self._saved = {"structures": twin.structures, "display": twin.display,
                       "info": info, "index": labelmap.structures.index(info),
                       "thresholds": plan.thresholds, "items": self._plan_items(plan)}
        new_info = replace(model.info, name=self.new)
        labelmap.structures[self._saved["index"]] = replace(info, name=self.new)
        twin.structures = _renamed_keys(twin.structures, self.old, self.new)
        twin.structures[self.new] = replace(model, info=new_info, notes=list(model.notes))
        twin.display = _renamed_keys(twin.display, self.old, self.new)
        plan.thresholds = thresholds
        for collection, item in self._saved["items"]:
            plan._put(collection, self._renamed_item(item))
        self.events.emit(Event("renamed", "structures", self.new, self.old))

    def undo(self, plan: Plan) -> None:
        saved = self._saved
        self.twin.labelmap.structures[saved["index"]] = saved["info"]
        self.twin.structures = saved["structures"]
        self.twin.display = saved["display"]
        plan.thresholds = saved["thresholds"]
        for collection, item in saved["items"]:
            plan._put(collection, item)
        self.events.emit(Event("renamed", "structures", self.old, self.new))

    def _plan_items(self, plan: Plan) -> list[tuple[str, Incision | Measurement]]:
        """The plan items naming the structure, with their collection."""
        items: list[tuple[str, Incision | Measurement]] = [
            ("incisions", c) for c in plan.incisions.values() if c.structure == self.old]
        items += [("measurements", m) for m in plan.measurements.values()
                  if self.old in m.structures]
        return items

    def _renamed_item(self, item: Incision | Measurement) -> Incision | Measurement:
        if isinstance(item, Incision):
            return replace(item, structure=self.new)
        return replace(item, structures=tuple(self.new if s == self.old else s
                                              for s in item.structures))
