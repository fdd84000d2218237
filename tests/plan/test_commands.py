"""Every plan edit is undoable; one stack across all item kinds; models emit events."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surgiplan.errors import InputError
from surgiplan.plan.commands import AddItem, Macro, RemoveItem, ReplaceItem, UndoStack
from surgiplan.plan.model import (
    Incision,
    InstrumentPlacement,
    Landmark,
    Measurement,
    Plan,
)

POSE = tuple(tuple(row) for row in np.eye(4))


def _incision(item_id: str, x: float = 0.0) -> Incision:
    return Incision(item_id, "skin", ((x, 0.0, 0.0), (x + 10.0, 0.0, 0.0)))


def test_add_edit_remove_and_undo_redo_across_item_kinds():
    plan = Plan()
    stack = UndoStack(plan)
    events = []
    plan.events.connect(events.append)
    stack.push(AddItem("incisions", _incision("cut-1")))
    stack.push(AddItem("landmarks", Landmark("tip", (1.0, 2.0, 3.0))))
    stack.push(ReplaceItem("incisions", _incision("cut-1", x=5.0)))
    stack.push(AddItem("instruments", InstrumentPlacement("needle-1", "biopsy_needle_18g", POSE)))
    stack.push(RemoveItem("landmarks", "tip"))
    assert list(plan.incisions) == ["cut-1"] and not plan.landmarks
    assert plan.incisions["cut-1"].points_lps_mm[0] == (5.0, 0.0, 0.0)
    assert [e.kind for e in events] == ["added", "added", "changed", "added", "removed"]
    assert stack.undo_text == "Remove landmark tip"
    stack.undo()
    assert plan.landmarks["tip"].point_lps_mm == (1.0, 2.0, 3.0)
    stack.undo()
    stack.undo()
    assert plan.incisions["cut-1"].points_lps_mm[0] == (0.0, 0.0, 0.0)
    stack.redo()
    assert plan.incisions["cut-1"].points_lps_mm[0] == (5.0, 0.0, 0.0)
    stack.undo_all()
    assert plan.snapshot() == Plan().snapshot()
    assert not stack.can_undo and stack.can_redo


def test_failing_command_changes_nothing():
    plan = Plan()
    stack = UndoStack(plan)
    stack.push(AddItem("incisions", _incision("a")))
    with pytest.raises(InputError, match="already has"):
        stack.push(AddItem("incisions", _incision("a")))
    macro = Macro([AddItem("incisions", _incision("b")), AddItem("incisions", _incision("a"))])
    with pytest.raises(InputError):
        stack.push(macro)
    assert list(plan.incisions) == ["a"]
    assert stack.undo_text == "Add incision a"


def test_removal_undo_restores_the_order_and_clean_state_tracks_saves():
    plan = Plan()
    stack = UndoStack(plan)
    for name in "abc":
        stack.push(AddItem("incisions", _incision(name)))
    stack.mark_clean()
    stack.push(RemoveItem("incisions", "b"))
    assert not stack.is_clean
    stack.undo()
    assert list(plan.incisions) == ["a", "b", "c"] and stack.is_clean
    stack.undo()
    stack.push(AddItem("incisions", _incision("d")))
    assert not stack.is_clean  # the saved state is gone from the history


def test_invalid_items_are_refused_with_clear_messages():
    with pytest.raises(InputError, match="at least 2 points"):
        Incision("x", "skin", ((0, 0, 0),))
    with pytest.raises(InputError, match="rigid"):
        InstrumentPlacement("n", "scalpel", tuple(tuple(r) for r in np.diag([2, 1, 1, 1])))
    with pytest.raises(InputError, match="needs 0 point"):
        Measurement("m", "structure_structure", points_lps_mm=((0, 0, 0),),
                    structures=("a", "b"))


def _items():
    ids = st.sampled_from(["a", "b", "c", "d"])
    coords = st.floats(-100, 100, allow_nan=False)
    point = st.tuples(coords, coords, coords)
    incision = st.builds(lambda i, p, q: Incision(i, "skin", (p, q)), ids, point, point)
    landmark = st.builds(lambda i, p: Landmark(i, p), ids, point)
    return st.one_of(st.tuples(st.just("incisions"), incision),
                     st.tuples(st.just("landmarks"), landmark))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "edit", "remove", "undo", "redo"]), _items()),
                max_size=25))
def test_random_edit_sequences_undo_to_the_initial_state(operations):
    plan = Plan()
    plan.landmarks["start"] = Landmark("start", (0.0, 0.0, 0.0))
    initial = plan.snapshot()
    stack = UndoStack(plan)
    for operation, (collection, item) in operations:
        exists = item.id in plan.collection(collection)
        if operation == "add" and not exists:
            stack.push(AddItem(collection, item))
        elif operation == "edit" and exists:
            stack.push(ReplaceItem(collection, item))
        elif operation == "remove" and exists:
            stack.push(RemoveItem(collection, item.id))
        elif operation == "undo" and stack.can_undo:
            stack.undo()
        elif operation == "redo" and stack.can_redo:
            stack.redo()
    stack.undo_all()
    assert plan.snapshot() == initial
