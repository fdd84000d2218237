"""Renaming a structure on the sample case: every reference follows, undo/redo, save/load,
refusals that change nothing, and a plan check (with a reused cache) naming the new name."""

from __future__ import annotations

import zipfile

import pytest

from surgiplan.case.case_file import load_case
from surgiplan.case.session import CaseSession
from surgiplan.case.twin_edits import NAME_PATTERN
from surgiplan.errors import InputError
from surgiplan.sample_case import sample_case_file
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import check_case
from surgiplan.twin.outputs import safe_name

OLD, NEW = "portal_vein", "portal_vein_main"
OVERRIDES = {"safety_margin": {"per_structure": {OLD: {"warning_mm": 4.0}}}}


@pytest.fixture(scope="module")
def sample_file():
    return sample_case_file()


@pytest.fixture
def session(sample_file) -> CaseSession:
    """The sample case with a measurement and a threshold override naming the portal vein
    and an incision on the liver (the sample's own incision is on the skin)."""
    session = CaseSession(load_case(sample_file))
    liver = session.case.twin.structure("liver").surface.vertices_lps_mm
    session.add_incision("liver", liver[:2])
    session.add_measurement("structure_structure", structures=(OLD, "aorta"))
    session.set_thresholds(OVERRIDES)
    session.stack.mark_clean()
    return session


def _state(session: CaseSession) -> dict:
    """Everything a rename may touch, in order (names, objects and plan items)."""
    twin, plan = session.case.twin, session.case.plan
    return {"structures": list(twin.structures.items()),
            "display": list(twin.display.items()),
            "labels": list(twin.labelmap.structures),
            "infos": [model.info for model in twin.structures.values()],
            "plan": plan.snapshot(), "thresholds": repr(plan.thresholds)}


def _complication_structures(case, cache=None) -> dict[str, tuple]:
    result = check_case(case, cache=cache)
    return {c.rule: c.structures for c in result.complications if c.item_id == "needle-2"}


def test_rename_follows_every_reference_and_undo_redo_restore(session):
    before = _state(session)
    order = list(session.case.twin.structures)
    model = session.case.twin.structure(OLD)
    session.rename_structure(OLD, NEW)
    twin, plan = session.case.twin, session.case.plan
    assert list(twin.structures) == [NEW if n == OLD else n for n in order]
    assert list(twin.display) == [NEW if n == OLD else n for n in order]
    assert twin.structure(NEW).name == NEW and twin.labelmap.structure(NEW).name == NEW
    assert twin.labelmap.structure(NEW).label == model.info.label
    assert twin.structure(NEW).surface is model.surface  # renamed, not rebuilt
    assert OLD not in twin.labelmap.names
    assert [c.structure for c in plan.incisions.values()] == ["skin", "liver"]
    assert [m.structures for m in plan.measurements.values()] == [(NEW, "aorta")]
    assert plan.thresholds == {"safety_margin": {"per_structure": {NEW: {"warning_mm": 4.0}}}}
    assert session.stack.undo_text == f"rename {OLD} to {NEW}" and session.dirty
    assert session.case.provenance.steps[-1].name == "rename_structure"
    session.undo()
    assert _state(session) == before
    assert twin.structure(OLD) is model and not session.dirty
    session.redo()
    assert list(twin.structures)[order.index(OLD)] == NEW
    assert [m.structures for m in plan.measurements.values()] == [(NEW, "aorta")]


def test_rename_of_a_structure_an_incision_is_drawn_on(session):
    session.rename_structure("liver", "liver_whole")
    incisions = list(session.case.plan.incisions.values())
    assert [c.structure for c in incisions] == ["skin", "liver_whole"]
    session.undo()
    assert [c.structure for c in session.case.plan.incisions.values()] == ["skin", "liver"]


def test_events_name_the_structure_before_and_after(session):
    seen = []
    session.structure_events.connect(seen.append)
    session.rename_structure(OLD, NEW)
    session.undo()
    assert [(e.kind, e.collection, e.item_id, e.value) for e in seen] == [
        ("renamed", "structures", NEW, OLD),
        ("renamed", "structures", OLD, NEW)]


@pytest.mark.parametrize(("old", "new", "message"), [
    (OLD, "", "needs a name"),
    (OLD, "   ", "needs a name"),
    (OLD, "aorta", "already exists"),
    (OLD, "Aorta", "already exists"),  # one file on case-insensitive disks
    (OLD, "portal vein", "cannot name"),
    (OLD, "portal/vein", "cannot name"),
    (OLD, "../vein", "cannot name"),
    (OLD, "vein_", "cannot name"),
    (OLD, "véine", "cannot name"),
    (OLD, "a" * 65, "cannot name"),
    (OLD, "con", "reserved"),
    (OLD, "nul.vein", "reserved"),
    ("skin", "body", "keeps its name"),
    ("gallbladder", "gb", "no structure"),
])
def test_refusals_name_the_problem_and_change_nothing(session, old, new, message):
    before = _state(session)
    with pytest.raises(InputError, match=message):
        session.rename_structure(old, new)
    assert _state(session) == before
    assert not session.stack.can_redo and not session.dirty
    assert session.stack.undo_text == "edit thresholds"


def test_a_threshold_entry_for_the_new_name_is_refused(session):
    session.set_thresholds({"safety_margin": {"per_structure": {
        OLD: {"warning_mm": 4.0}, NEW: {"warning_mm": 1.0}}}})
    before = _state(session)
    with pytest.raises(InputError, match="already have an entry"):
        session.rename_structure(OLD, NEW)
    assert _state(session) == before


def test_the_same_name_again_is_no_edit(session):
    session.rename_structure(OLD, f"  {OLD} ")
    assert session.stack.undo_text == "edit thresholds"


@pytest.mark.parametrize("name", ["liver", "portal_vein_main", "segment-4.1", "S4", "a"])
def test_accepted_names_are_their_own_file_names(name):
    assert NAME_PATTERN.fullmatch(name)
    assert safe_name(name) == name


def test_saved_and_reopened_case_keeps_the_new_name(session, tmp_path):
    session.rename_structure(OLD, NEW)
    path = session.save(tmp_path / "renamed")
    with zipfile.ZipFile(path) as archive:
        folders = {name.split("/")[1] for name in archive.namelist()
                   if name.startswith("structures/")}
    assert NEW in folders and OLD not in folders
    case = load_case(path)
    twin = case.twin
    assert list(twin.structures) == list(session.case.twin.structures)
    assert list(twin.display) == list(session.case.twin.display)
    assert twin.labelmap.structure(NEW).label == session.case.twin.labelmap.structure(NEW).label
    assert twin.structure(NEW).region.voxel_count == \
        session.case.twin.structure(NEW).region.voxel_count
    assert case.plan.snapshot() == session.case.plan.snapshot()
    assert case.plan.thresholds == session.case.plan.thresholds
    assert [s.name for s in case.provenance.steps][-2:] == ["rename_structure", "save"]


def test_check_after_rename_names_the_new_structure_with_a_reused_cache(sample_file):
    session = CaseSession(load_case(sample_file))
    cache = SimulationCache()
    assert _complication_structures(session.case, cache)["safety_margin"] == (OLD,)
    session.rename_structure(OLD, NEW)
    assert _complication_structures(session.case, cache)["safety_margin"] == (NEW,)
    session.undo()
    assert _complication_structures(session.case, cache)["safety_margin"] == (OLD,)
