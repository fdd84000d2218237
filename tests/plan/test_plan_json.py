"""Plans read and written as JSON: the issue's minimal schema, exact round trips, clear errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surgiplan.errors import InputError
from surgiplan.plan.commands import UndoStack
from surgiplan.plan.model import (
    MEASUREMENT_KINDS,
    Incision,
    InstrumentPlacement,
    Landmark,
    Measurement,
    Plan,
)
from surgiplan.plan.plan_json import (
    PLAN_SCHEMA,
    items_from_json,
    plan_from_json,
    plan_to_json,
    pose_from_entry_target,
    read_plan_items,
    read_plan_json,
    write_plan_json,
)

MINIMAL = {
    "instruments": [{"id": "needle-1", "type": "biopsy_needle_18g",
                     "entry_lps_mm": [10.0, -80.0, 40.0], "target_lps_mm": [10.0, -20.0, 120.0]}],
    "incisions": [{"id": "cut-1", "structure": "skin",
                   "points_lps_mm": [[0.0, -90.0, 0.0], [30.0, -90.0, 0.0], [60.0, -85.0, 5.0]]}],
}


def test_the_issue_minimal_example_loads():
    plan = plan_from_json(MINIMAL)
    needle = plan.instruments["needle-1"]
    assert needle.instrument == "biopsy_needle_18g"
    assert np.allclose(needle.tip_lps_mm, [10, -20, 120])
    assert np.allclose(needle.axis, [0, 0.6, 0.8])  # unit(target - entry)
    assert needle.insertion_depth_mm == pytest.approx(100.0)
    assert needle.entry_lps_mm == (10.0, -80.0, 40.0) and needle.pivot_lps_mm is None
    x_axis = needle.pose[:3, 0]
    assert np.allclose(x_axis, [1, 0, 0])  # the axis is perpendicular to L: x is L itself
    cut = plan.incisions["cut-1"]
    assert cut.structure == "skin" and len(cut.points_lps_mm) == 3 and cut.depth_mm == 5.0
    assert not plan.landmarks and not plan.measurements


def test_pose_from_entry_target_frame():
    pose = np.array(pose_from_entry_target([0, 0, 0], [3, 0, 4]))
    assert np.allclose(pose[:3, 2], [0.6, 0, 0.8]) and np.allclose(pose[:3, 3], [3, 0, 4])
    assert np.allclose(pose[:3, 0], [0.8, 0, -0.6])  # closest to +x, perpendicular to the axis
    assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3))
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    along_x = np.array(pose_from_entry_target([0, 0, 0], [-5, 0, 0]))
    assert np.allclose(along_x[:3, 0], [0, 1, 0])  # left-right axis: falls back to +y
    nearly = np.array(pose_from_entry_target([0, 0, 0], [10, 0, 1]))  # |axis . L| = 0.995
    assert abs(nearly[:3, 0] @ [0, 1, 0]) == pytest.approx(1.0)


def test_optional_fields_and_free_poses():
    pose = np.eye(4)
    pose[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    pose[:3, 3] = [1, 2, 3]
    data = {"schema_version": 1, "instruments": [
        {"id": "port", "type": "trocar_12mm", "pose_lps": pose.tolist(),
         "insertion_depth_mm": 30.0, "pivot_lps_mm": [1, 2, -27]},
        {"id": "n", "type": "ablation_probe", "entry_lps_mm": [0, 0, 0],
         "target_lps_mm": [0, 0, 10], "insertion_depth_mm": 7.5, "pivot_lps_mm": None}],
        "incisions": [{"id": "c", "structure": "liver", "points_lps_mm": [[0, 0, 0], [1, 0, 0]],
                       "depth_mm": 2.5}],
        "landmarks": [{"id": "l1", "point_lps_mm": [1, 2, 3], "label": "xiphoid"},
                      {"id": "l2", "point_lps_mm": [4, 5, 6]}],
        "measurements": [{"id": "m", "kind": "point_structure", "points_lps_mm": [[0, 0, 0]],
                          "structures": ["aorta"]},
                         {"id": "s", "kind": "structure_structure",
                          "structures": ["liver", "aorta"]}]}
    plan = plan_from_json(data)
    port = plan.instruments["port"]
    assert np.allclose(port.pose, pose) and port.entry_lps_mm is None
    assert port.insertion_depth_mm == 30.0 and port.pivot_lps_mm == (1.0, 2.0, -27.0)
    assert plan.instruments["n"].insertion_depth_mm == 7.5  # given depth wins over |t - e|
    assert plan.incisions["c"].depth_mm == 2.5
    assert plan.landmarks["l1"].label == "xiphoid" and plan.landmarks["l2"].label == ""
    assert plan.measurements["s"].points_lps_mm == () and list(plan.measurements) == ["m", "s"]


def test_items_apply_as_one_undoable_step():
    plan = Plan()
    plan._put("landmarks", Landmark("keep", (0.0, 0.0, 0.0)))
    stack = UndoStack(plan)
    stack.push(items_from_json(MINIMAL).to_macro())
    assert set(plan.instruments) == {"needle-1"} and set(plan.incisions) == {"cut-1"}
    stack.undo()
    assert not plan.instruments and not plan.incisions and set(plan.landmarks) == {"keep"}
    clash = copy.deepcopy(MINIMAL)
    clash["landmarks"] = [{"id": "keep", "point_lps_mm": [1, 1, 1]}]
    with pytest.raises(InputError, match="already has a landmark 'keep'"):
        stack.push(items_from_json(clash).to_macro())
    assert not plan.instruments and not plan.incisions  # all or nothing


OVERRIDES = {"safety_margin": {"thresholds": {"warning_mm": 2.0},
                               "per_structure": {"portal_vein": {"critical_mm": 1.5}}},
             "port_geometry": {"enabled": False}}


def test_threshold_overrides_round_trip_and_apply_as_part_of_the_step(tmp_path):
    plan = plan_from_json({**MINIMAL, "thresholds": OVERRIDES})
    assert plan.thresholds == OVERRIDES
    path = write_plan_json(plan, tmp_path / "plan.json")
    assert json.loads(path.read_text())["thresholds"] == OVERRIDES
    assert read_plan_json(path).thresholds == OVERRIDES
    assert plan_to_json(Plan())["thresholds"] == {}  # written files carry every field
    # Applying a file merges its overrides over the plan's, in the same undo step.
    stack = UndoStack(plan)
    more = {"safety_margin": {"thresholds": {"critical_mm": 0.5}}}
    stack.push(items_from_json({"thresholds": more}).to_macro())
    assert plan.thresholds["safety_margin"]["thresholds"] == {"warning_mm": 2.0,
                                                              "critical_mm": 0.5}
    assert plan.thresholds["port_geometry"] == {"enabled": False}
    stack.undo()
    assert plan.thresholds == OVERRIDES


@pytest.mark.parametrize(("overrides", "message"), [
    ({"safety_margin": {"thresholds": {"margin_mm": 2.0}}},
     r"thresholds: .*'safety_margin' thresholds: unknown 'margin_mm'; valid: warning_mm, "
     "critical_mm"),
    ({"safety_marg": {"thresholds": {"warning_mm": 2.0}}},
     r"thresholds: .*unknown 'safety_marg'; valid: critical_breach, safety_margin"),
    ({"safety_margin": {"citations": []}}, r"'safety_margin': unknown 'citations'"),
    ({"safety_margin": {"thresholds": {"warning_mm": "2"}}},
     r"warning_mm must be a finite number"),
    ({"safety_margin": {"enabled": "no"}}, r"enabled must be true or false"),
    ([1, 2], r"thresholds must be an object of rule ids"),
])
def test_bad_threshold_overrides_name_the_key(overrides, message):
    with pytest.raises(InputError, match=message):
        items_from_json({**MINIMAL, "thresholds": overrides})


def test_written_files_round_trip_exactly(tmp_path):
    plan = plan_from_json(MINIMAL)
    plan._put("landmarks", Landmark("ü-1", (0.1, 1 / 3, -2e-17), "Nabel – umbilicus"))
    plan._put("measurements", Measurement("a", "angle", ((0, 0, 0), (1, 0, 0), (1, 1, 0.5))))
    path = write_plan_json(plan, tmp_path / "plan.json")
    assert read_plan_json(path).snapshot() == plan.snapshot()
    assert read_plan_items(path).landmarks[0].label == "Nabel – umbilicus"
    written = json.loads(path.read_text())
    assert written["schema_version"] == 1
    assert set(written["instruments"][0]) == set(
        PLAN_SCHEMA["properties"]["instruments"]["items"]["properties"])  # every field


def test_schema_documents_the_fields_the_reader_accepts():
    written = plan_to_json(plan_from_json({**MINIMAL, "landmarks": [
        {"id": "l", "point_lps_mm": [0, 0, 0], "label": "x"}], "measurements": [
        {"id": "m", "kind": "point_point", "points_lps_mm": [[0, 0, 0], [1, 1, 1]]}]}))
    assert set(written) == set(PLAN_SCHEMA["properties"])
    for name, entries in written.items():
        if name in ("schema_version", "thresholds"):
            continue
        item_schema = PLAN_SCHEMA["properties"][name]["items"]
        assert set(entries[0]) == set(item_schema["properties"]), name
        assert set(item_schema["required"]) <= set(entries[0])
        assert item_schema["additionalProperties"] is False
    kinds = PLAN_SCHEMA["properties"]["measurements"]["items"]["properties"]["kind"]["enum"]
    assert tuple(kinds) == MEASUREMENT_KINDS


def _with(path: str, value, base=None) -> dict:
    """A copy of the minimal document with the value at ``path`` (a.b[0].c) replaced."""
    doc = copy.deepcopy(MINIMAL if base is None else base)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()
_TWO_NEEDLES = _with("instruments", MINIMAL["instruments"] * 2
                     + [{**MINIMAL["instruments"][0], "id": "needle-3"}])


@pytest.mark.parametrize(("doc", "message"), [
    ([], r"the plan must be a JSON object"),
    ({**MINIMAL, "instrument": []}, r"unknown key\(s\) 'instrument': allowed keys are "
                                    r"schema_version, instruments, incisions, landmarks"),
    ({**MINIMAL, "schema_version": 2}, r"schema_version 2 is not supported"),
    ({"instruments": {}}, r"instruments must be a list"),
    ({"incisions": [7]}, r"incisions\[0\] must be a JSON object"),
    (_with("instruments[0].type", _DELETE), r"instruments\[0\] lacks type"),
    (_with("instruments[0].entry", [0, 0, 0]), r"instruments\[0\] has unknown key\(s\) 'entry'"),
    (_with("instruments[0].id", ""), r"instruments\[0\]\.id must be a non-empty string"),
    (_with("instruments[0].id", 3), r"instruments\[0\]\.id must be a non-empty string"),
    (_with("instruments[2].entry_lps_mm", [1, 2], _TWO_NEEDLES),
     r"instruments\[2\]\.entry_lps_mm must be three numbers"),
    (_with("instruments[0].entry_lps_mm", ["1", 2, 3]),
     r"instruments\[0\]\.entry_lps_mm\[0\] must be a finite number"),
    (_with("instruments[0].entry_lps_mm", [True, 2, 3]),
     r"instruments\[0\]\.entry_lps_mm\[0\] must be a finite number"),
    (_with("instruments[0].target_lps_mm", [0, float("nan"), 0]),
     r"instruments\[0\]\.target_lps_mm\[1\] must be a finite number"),
    (_with("instruments[0].target_lps_mm", _DELETE),
     r"instruments\[0\] needs entry_lps_mm and target_lps_mm \(or a 4x4 pose_lps\)"),
    (_with("instruments[0].target_lps_mm", [10.0, -80.0, 40.0]),
     r"instruments\[0\]: entry and target are the same point"),
    (_with("instruments[0].insertion_depth_mm", -1), r"insertion_depth_mm must be zero or more"),
    (_with("instruments[0].pose_lps", [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
     r"instruments\[0\]\.pose_lps must be a 4x4 matrix"),
    (_with("instruments[0].pose_lps", (2 * np.eye(4)).tolist()),
     r"instruments\[0\]: instrument 'needle-1': pose must be a rigid transform"),
    (_TWO_NEEDLES, r"instruments\[1\]\.id 'needle-1' is already used by instruments\[0\]"),
    (_with("incisions[0].points_lps_mm", [[0, 0, 0]]),
     r"incisions\[0\]\.points_lps_mm must be a list of at least 2 points"),
    (_with("incisions[0].points_lps_mm[1]", [0, 0]),
     r"incisions\[0\]\.points_lps_mm\[1\] must be three numbers"),
    (_with("incisions[0].depth_mm", 0), r"incisions\[0\]\.depth_mm must be positive"),
    (_with("incisions[0].structure", None), r"incisions\[0\] lacks structure"),
    ({"landmarks": [{"id": "l", "point_lps_mm": [0, 0, 0], "label": 5}]},
     r"landmarks\[0\]\.label must be a string"),
    ({"measurements": [{"id": "m", "kind": "volume"}]},
     r"measurements\[0\]\.kind 'volume' is unknown: use one of point_point"),
    ({"measurements": [{"id": "m", "kind": "angle", "points_lps_mm": [[0, 0, 0]]}]},
     r"measurements\[0\]: measurement 'm' \(angle\) needs 3 point\(s\)"),
    ({"measurements": [{"id": "m", "kind": "structure_structure", "structures": "aorta"}]},
     r"measurements\[0\]\.structures must be a list"),
])
def test_bad_input_names_the_json_path(doc, message):
    with pytest.raises(InputError, match=message):
        items_from_json(doc)


def test_unreadable_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist: check the path"):
        read_plan_json(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"instruments": [\n  {"id": "n",}\n]}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 2, column"):
        read_plan_json(broken)


# ---------------------------------------------------------------------------------------------
# Generated plans round-trip exactly
# ---------------------------------------------------------------------------------------------
_coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
_point = st.tuples(_coord, _coord, _coord)
_ids = st.text(min_size=1, max_size=10)


@st.composite
def _instruments(draw) -> InstrumentPlacement:
    item_id, kind = draw(_ids), draw(st.sampled_from(["scalpel", "drill", "trocar_5mm"]))
    depth = draw(st.floats(min_value=0, max_value=500))
    pivot = draw(st.none() | _point)
    if draw(st.booleans()):
        entry = draw(_point)
        step = draw(_point.filter(lambda p: np.linalg.norm(p) > 1e-3))
        target = tuple(float(e + s) for e, s in zip(entry, step, strict=True))
        if np.linalg.norm(np.subtract(target, entry)) < 1e-6:
            target = (entry[0] + 1.0, entry[1], entry[2])
        return InstrumentPlacement(item_id, kind, pose_from_entry_target(entry, target), depth,
                                   entry, target, pivot)
    q = np.array(draw(st.tuples(*[st.floats(-1, 1)] * 4).filter(
        lambda v: np.linalg.norm(v) > 0.1)))
    w, x, y, z = q / np.linalg.norm(q)
    pose = np.eye(4)
    pose[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    pose[:3, 3] = draw(_point)
    return InstrumentPlacement(item_id, kind, pose, depth, pivot_lps_mm=pivot)


@st.composite
def _measurements(draw) -> Measurement:
    kind = draw(st.sampled_from(MEASUREMENT_KINDS))
    n_points, n_structures = {"point_point": (2, 0), "point_structure": (1, 1),
                              "structure_structure": (0, 2), "angle": (3, 0)}[kind]
    return Measurement(draw(_ids), kind, tuple(draw(_point) for _ in range(n_points)),
                       tuple(draw(_ids) for _ in range(n_structures)))


_incisions = st.builds(Incision, _ids, _ids, st.lists(_point, min_size=2, max_size=5),
                       st.floats(min_value=0.01, max_value=100))
_landmarks = st.builds(Landmark, _ids, _point, st.text(max_size=20))


def _unique(strategy):
    return st.lists(strategy, max_size=4, unique_by=lambda item: item.id)


@settings(max_examples=60, deadline=None)
@given(_unique(_incisions), _unique(_instruments()), _unique(_landmarks),
       _unique(_measurements()))
def test_generated_plans_round_trip(incisions, instruments, landmarks, measurements):
    plan = Plan()
    for name, items in (("incisions", incisions), ("instruments", instruments),
                        ("landmarks", landmarks), ("measurements", measurements)):
        for item in items:
            plan._put(name, item)
    text = json.dumps(plan_to_json(plan), allow_nan=False)
    assert plan_from_json(json.loads(text)).snapshot() == plan.snapshot()
