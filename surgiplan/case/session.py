"""An open case being edited: the case, its file, one undo stack, autosave (no Qt).

The desktop app keeps one :class:`CaseSession`; every user edit (plan items, instrument moves,
structure display and table edits, structures added from seeds) goes through its methods,
which push undoable commands, so Undo/Redo, the unsaved-changes prompt and autosave all see
the same history. Headless scripts can drive it the same way.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.case.case_file import (
    autosave,
    case_path,
    discard_recovery,
    has_recovery,
    load_case,
    recovery_path,
    save_case,
)
from surgiplan.case.model import Case
from surgiplan.case.twin_edits import AddStructure, EditStructure, RenameStructure, SetDisplay
from surgiplan.errors import InputError
from surgiplan.events import EventEmitter
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.commands import AddItem, RemoveItem, ReplaceItem, UndoStack
from surgiplan.plan.model import Incision, InstrumentPlacement, Landmark, Measurement
from surgiplan.plan.overrides import SetThresholds, validate_overrides
from surgiplan.plan.placement import place_along_path
from surgiplan.twin.twin import DisplaySettings, StructureModel

NUDGE_KINDS = ("advance", "tilt_x", "tilt_y", "shift_l", "shift_p", "shift_s")
"""``advance``: tip along the shaft (mm, negative retracts); ``tilt_x`` / ``tilt_y``: rotate
the shaft (degrees) about the instrument's x / y axis through its entry (pivot) point;
``shift_l`` / ``shift_p`` / ``shift_s``: translate the whole instrument along patient L, P, S
(mm)."""

_SHIFT_AXES = {"shift_l": (1.0, 0.0, 0.0), "shift_p": (0.0, 1.0, 0.0), "shift_s": (0.0, 0.0, 1.0)}


def _rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """(3, 3) rotation by ``angle_deg`` about unit ``axis`` (Rodrigues)."""
    axis = axis / np.linalg.norm(axis)
    angle = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def nudged(placement: InstrumentPlacement, kind: str, amount: float) -> InstrumentPlacement:
    """``placement`` moved by one keyboard or button nudge.

    Parameters
    ----------
    placement : InstrumentPlacement
        Current placement.
    kind : str
        One of :data:`NUDGE_KINDS`.
    amount : float
        mm for ``advance`` and shifts, degrees for tilts.

    Returns
    -------
    InstrumentPlacement
        The moved placement (same id). The planned target stays where it was planned (the
        instrument may be moved off it, e.g. into a vessel, which the check then flags); the
        skin entry stays for advance and tilts and moves with shifts.
    """
    if kind not in NUDGE_KINDS:
        raise InputError(f"unknown nudge {kind!r} (use one of: {', '.join(NUDGE_KINDS)})")
    pose = placement.pose
    tip = pose[:3, 3]
    entry = placement.entry_lps_mm
    if kind == "advance":
        pose[:3, 3] = tip + amount * pose[:3, 2]
        depth = max(0.0, placement.insertion_depth_mm + amount)
        return replace(placement, pose_lps=pose, insertion_depth_mm=depth)
    if kind in _SHIFT_AXES:
        shift = amount * np.asarray(_SHIFT_AXES[kind])
        pose[:3, 3] = tip + shift
        moved = {name: None if getattr(placement, name) is None
                 else tuple(np.asarray(getattr(placement, name)) + shift)
                 for name in ("entry_lps_mm", "pivot_lps_mm")}
        return replace(placement, pose_lps=pose, **moved)
    centre = np.asarray(placement.pivot_lps_mm or entry or tip, dtype=float)
    rotation = _rotation(pose[:3, 0 if kind == "tilt_x" else 1], amount)
    pose[:3, :3] = rotation @ pose[:3, :3]
    pose[:3, 3] = centre + rotation @ (tip - centre)
    return replace(placement, pose_lps=pose)


def aimed(placement: InstrumentPlacement, tip_lps_mm: Any) -> InstrumentPlacement:
    """``placement`` with its tip at ``tip_lps_mm``, the shaft through its entry (or pivot).

    The shaft turns by the smallest rotation (the instrument keeps its roll); the insertion
    depth becomes the entry-to-tip distance. Without an entry the instrument is translated.
    """
    tip = np.asarray(tip_lps_mm, dtype=float).reshape(3)
    pose = placement.pose
    centre = placement.pivot_lps_mm or placement.entry_lps_mm
    if centre is None:
        pose[:3, 3] = tip
        return replace(placement, pose_lps=pose)
    shaft = tip - np.asarray(centre, dtype=float)
    length = float(np.linalg.norm(shaft))
    if length < 1e-6:
        raise InputError(f"the tip of {placement.id} cannot be on its entry point: "
                         "drag it into the body")
    old, new = pose[:3, 2], shaft / length
    axis = np.cross(old, new)
    angle = np.degrees(np.arctan2(np.linalg.norm(axis), float(old @ new)))
    if np.linalg.norm(axis) > 1e-12:
        pose[:3, :3] = _rotation(axis, angle) @ pose[:3, :3]
    elif old @ new < 0:
        pose[:3, :3] = _rotation(pose[:3, 0], 180.0) @ pose[:3, :3]
    pose[:3, 3] = tip
    return replace(placement, pose_lps=pose, insertion_depth_mm=length)


class CaseSession:
    """One open case and its edit history.

    Attributes
    ----------
    case : Case
        The case being edited.
    path : Path or None
        Its ``.surgiplan`` file; ``None`` until first saved.
    stack : UndoStack
        Every edit, plan and twin alike.
    structure_events : EventEmitter
        ``Event(kind, "structures", name, value)`` after each twin edit (and its undo).
    catalogue : Catalogue
        Instruments that can be placed.
    recovered : bool
        Opened from an autosave: unsaved until saved, even with an empty undo history.
    """

    def __init__(self, case: Case, path: str | os.PathLike[str] | None = None, *,
                 catalogue: Catalogue | None = None) -> None:
        self.case = case
        self.path = None if path is None else case_path(path)
        self.stack = UndoStack(case.plan)
        self.structure_events = EventEmitter()
        self.catalogue = catalogue or load_catalogue()
        self.recovered = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, recover: bool = False) -> CaseSession:
        """Open a case file, or its autosave when ``recover`` (then the session is unsaved)."""
        source = recovery_path(path) if recover else Path(path)
        session = cls(load_case(source), path)
        if recover:
            session.stack.mark_clean()
            session.recovered = True
        return session

    # ---- file state -------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Whether there are changes since the last save (or the session was recovered)."""
        return not self.stack.is_clean or self.recovered

    @property
    def title(self) -> str:
        """Window title: file name (or "Untitled case"), with ``*`` when unsaved."""
        name = self.path.name if self.path is not None else "Untitled case"
        return f"{name}{' *' if self.dirty else ''}"

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save atomically to ``path`` (or the current file); clears the autosave."""
        target = path if path is not None else self.path
        if target is None:
            raise InputError("this case has no file yet: choose where to save it (Save As)")
        self.case.provenance.add_step("save")
        written = save_case(self.case, target)
        self.path = written
        self.stack.mark_clean()
        self.recovered = False
        discard_recovery(written)
        return written

    def autosave(self, fallback_dir: str | os.PathLike[str] | None = None) -> Path | None:
        """Write the recovery file when there are unsaved changes; return it (or ``None``)."""
        if not self.dirty:
            return None
        target = self.path or (Path(fallback_dir or Path.home()) / "untitled.surgiplan")
        return autosave(self.case, target)

    @staticmethod
    def recovery_available(path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` has an autosave newer than the file (offer to recover it)."""
        return has_recovery(path)

    # ---- plan edits ---------------------------------------------------------------------
    def placement(self, item_id: str) -> InstrumentPlacement:
        return self.case.plan.get("instruments", item_id)

    def place_instrument(self, instrument_id: str, entry_lps_mm: Any,
                         target_lps_mm: Any) -> InstrumentPlacement:
        """Place a catalogue instrument with its tip on the target, along entry -> target."""
        instrument = self.catalogue.get(instrument_id)
        plan_id = self.case.plan.new_id("instruments", instrument.category)
        placement = place_along_path(plan_id, instrument, entry_lps_mm, target_lps_mm,
                                     twin=self.case.twin)
        self.stack.push(AddItem("instruments", placement, text=f"place {plan_id}"))
        return placement

    def move_instrument(self, placement: InstrumentPlacement, *,
                        text: str = "") -> InstrumentPlacement:
        """Replace the placement with the same id by ``placement`` (one undo step)."""
        self.placement(placement.id)
        self.stack.push(ReplaceItem("instruments", placement, text=text or f"move {placement.id}"))
        return placement

    def nudge(self, item_id: str, kind: str, amount: float) -> InstrumentPlacement:
        """Move an instrument by one nudge (see :func:`nudged`); one undo step."""
        moved = nudged(self.placement(item_id), kind, float(amount))
        return self.move_instrument(moved, text=f"{kind.replace('_', ' ')} {item_id}")

    def aim_instrument(self, item_id: str, tip_lps_mm: Any) -> InstrumentPlacement:
        """Drag the tip to ``tip_lps_mm`` (LPS mm): the shaft is re-aimed through its skin
        entry (or port), the depth follows; without an entry the instrument is translated.
        One undo step; the planned target stays."""
        return self.move_instrument(aimed(self.placement(item_id), tip_lps_mm),
                                    text=f"drag {item_id}")

    def add_incision(self, structure: str, points_lps_mm: Any,
                     depth_mm: float = 5.0) -> Incision:
        """Add an incision drawn on ``structure`` through the clicked points (LPS mm)."""
        self.case.twin.structure(structure)
        points = tuple(tuple(map(float, p)) for p in np.asarray(points_lps_mm, dtype=float))
        incision = Incision(self.case.plan.new_id("incisions", "incision"), structure, points,
                            float(depth_mm))
        self.stack.push(AddItem("incisions", incision, text=f"draw {incision.id}"))
        return incision

    def add_measurement(self, kind: str, points_lps_mm: Any = (),
                        structures: tuple[str, ...] = ()) -> Measurement:
        """Add a measurement (kinds as in :class:`~surgiplan.plan.model.Measurement`)."""
        points = tuple(tuple(map(float, p)) for p in np.asarray(points_lps_mm, dtype=float))
        measurement = Measurement(self.case.plan.new_id("measurements", kind), kind, points,
                                  tuple(structures))
        self.stack.push(AddItem("measurements", measurement, text=f"measure {measurement.id}"))
        return measurement

    def add_landmark(self, point_lps_mm: Any, label: str = "") -> Landmark:
        landmark = Landmark(self.case.plan.new_id("landmarks", "landmark"),
                            tuple(map(float, point_lps_mm)), label)
        self.stack.push(AddItem("landmarks", landmark, text=f"add {landmark.id}"))
        return landmark

    def remove_item(self, collection: str, item_id: str) -> None:
        self.stack.push(RemoveItem(collection, item_id, text=f"delete {item_id}"))

    def set_thresholds(self, overrides: dict[str, Any]) -> None:
        """Replace the plan's threshold overrides (checked against the table; one undo
        step). An empty dict returns the plan to the shipped table."""
        checked = validate_overrides(overrides)
        if checked != self.case.plan.thresholds:
            self.stack.push(SetThresholds(checked, replace=True, text="edit thresholds"))

    # ---- twin edits ---------------------------------------------------------------------
    def set_display(self, name: str, settings: DisplaySettings) -> None:
        self.stack.push(SetDisplay(self.case.twin, self.structure_events, name, settings))

    def edit_structure(self, name: str, **changes: Any) -> None:
        """Change ``tissue``, ``critical`` or ``colour`` of a structure (one undo step)."""
        self.stack.push(EditStructure(self.case.twin, self.structure_events, name, changes))

    def add_structure(self, model: StructureModel) -> None:
        """Add a structure built off the GUI thread (e.g. grown from a seed)."""
        self.stack.push(AddStructure(self.case.twin, self.structure_events, model))
        self.case.provenance.add_step("add_structure", structure=model.name)

    def rename_structure(self, old: str, new: str) -> None:
        """Rename structure ``old`` to ``new`` in the twin and every plan reference (one undo
        step; see :class:`~surgiplan.case.twin_edits.RenameStructure`). Leading and trailing
        spaces are dropped; the same name again changes nothing.

        Raises
        ------
        InputError
            For the names :func:`~surgiplan.case.twin_edits.check_new_name` refuses; nothing
            is changed then.
        """
        new = new.strip()
        if new == old and old in self.case.twin.structures:
            return
        self.stack.push(RenameStructure(self.case.twin, self.structure_events, old, new))
        self.case.provenance.add_step("rename_structure", structure=old, new_name=new)

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()
