"""A tiny event emitter for models (no Qt): the UI subscribes, models stay GUI-free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """What changed: ``kind`` (e.g. ``"added"``, ``"changed"``, ``"removed"``), the item
    collection, the item id, and the new value (``None`` when removed)."""

    kind: str
    collection: str
    item_id: str
    value: Any = None


class EventEmitter:
    """Callbacks called synchronously, in connection order, for every emitted event."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Event], None]] = []

    def connect(self, callback: Callable[[Event], None]) -> Callable[[Event], None]:
        """Subscribe ``callback``; returns it so it can be used as a decorator."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[Event], None]) -> None:
        """Unsubscribe ``callback`` (no error if it was not connected)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._callbacks):
            callback(event)
