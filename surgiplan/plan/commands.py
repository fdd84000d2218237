"""Undoable edits of a :class:`~surgiplan.plan.model.Plan`: one undo stack for every change.

Every change to a plan is a command with ``do`` and ``undo``; :class:`UndoStack` runs them,
keeps one history across incisions, instruments, landmarks and measurements, and can undo or
redo any number of steps. Commands hold the items they need, so undo never recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from surgiplan.errors import InputError
from surgiplan.events import Event, EventEmitter
from surgiplan.plan.model import Plan


class Command(Protocol):
    """An edit that can be done and undone on a plan."""

    text: str

    def do(self, plan: Plan) -> None: ...

    def undo(self, plan: Plan) -> None: ...


@dataclass
class AddItem:
    """Add a new item to a collection."""

    collection: str
    item: Any
    text: str = ""

    def __post_init__(self) -> None:
        self.text = self.text or f"Add {self.collection[:-1]} {self.item.id}"

    def do(self, plan: Plan) -> None:
        if self.item.id in plan.collection(self.collection):
            raise InputError(f"the plan already has a {self.collection[:-1]} {self.item.id!r}")
        plan._put(self.collection, self.item)

    def undo(self, plan: Plan) -> None:
        plan._remove(self.collection, self.item.id)


@dataclass
class ReplaceItem:
    """Replace an item by an edited copy with the same id (move points, change pose...)."""

    collection: str
    item: Any
    text: str = ""
    _previous: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.text = self.text or f"Edit {self.collection[:-1]} {self.item.id}"

    def do(self, plan: Plan) -> None:
        self._previous = plan.get(self.collection, self.item.id)
        plan._put(self.collection, self.item)

    def undo(self, plan: Plan) -> None:
        plan._put(self.collection, self._previous)


@dataclass
class RemoveItem:
    """Remove an item (undo puts it back at the same place in the order)."""

    collection: str
    item_id: str
    text: str = ""
    _removed: Any = field(default=None, repr=False)
    _position: int = 0

    def __post_init__(self) -> None:
        self.text = self.text or f"Remove {self.collection[:-1]} {self.item_id}"

    def do(self, plan: Plan) -> None:
        self._position = list(plan.collection(self.collection)).index(
            plan.get(self.collection, self.item_id).id)
        self._removed = plan._remove(self.collection, self.item_id)

    def undo(self, plan: Plan) -> None:
        plan._insert(self.collection, self._removed, self._position)


@dataclass
class Macro:
    """Several commands as one undo step (e.g. applying a plan file)."""

    commands: list[Command]
    text: str = "Edit plan"

    def do(self, plan: Plan) -> None:
        done: list[Command] = []
        try:
            for command in self.commands:
                command.do(plan)
                done.append(command)
        except Exception:
            for command in reversed(done):  # all or nothing
                command.undo(plan)
            raise

    def undo(self, plan: Plan) -> None:
        for command in reversed(self.commands):
            command.undo(plan)


class UndoStack:
    """Runs commands on one plan and undoes/redoes them.

    ``events`` emits ``Event("stack", "undo", <text of the command>)`` after every push, undo
    or redo so a UI can refresh its Undo/Redo actions. ``is_clean`` tells whether the plan is
    as it was at the last :meth:`mark_clean` (e.g. the last save).
    """

    def __init__(self, plan: Plan, *, limit: int = 1000) -> None:
        self.plan = plan
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean_depth: int | None = 0
        self.events = EventEmitter()

    def push(self, command: Command) -> None:
        """Do ``command`` and record it; a failing command changes nothing and is not kept."""
        command.do(self.plan)
        self._done.append(command)
        self._undone.clear()
        if self._clean_depth is not None and self._clean_depth >= len(self._done):
            self._clean_depth = None  # the clean state can no longer be reached by redo
        if len(self._done) > self.limit:
            self._done.pop(0)
            self._clean_depth = None if self._clean_depth in (None, 0) else self._clean_depth - 1
        self._notify(command.text)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def undo(self) -> None:
        if not self._done:
            raise InputError("nothing to undo")
        command = self._done.pop()
        command.undo(self.plan)
        self._undone.append(command)
        self._notify(command.text)

    def redo(self) -> None:
        if not self._undone:
            raise InputError("nothing to redo")
        command = self._undone.pop()
        command.do(self.plan)
        self._done.append(command)
        self._notify(command.text)

    def undo_all(self) -> None:
        while self._done:
            self.undo()

    def mark_clean(self) -> None:
        self._clean_depth = len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._clean_depth == len(self._done)

    def _notify(self, text: str) -> None:
        self.events.emit(Event("stack", "undo", text))
