"""Slicer markups export, checked field by field against Slicer's markups JSON schema v1.0.3.

The facts below are transcribed from ``Modules/Loadable/Markups/Resources/Schema/
markups-schema-v1.0.3.json`` of the Slicer repository (property names, types, enums, ranges)
and from ``vtkMRMLMarkupsJsonStorageNode.cxx`` (the ``@schema`` pattern Slicer accepts and the
fields it writes). The schema file itself is not copied into this repository.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.incision import IncisionPath, trace_incision
from surgiplan.plan.markups import (
    MARKUPS_SCHEMA_URL,
    markups_document,
    trajectories_from_plan,
    write_markups,
    write_markups_files,
)
from surgiplan.plan.model import Incision, InstrumentPlacement, Landmark, Plan
from surgiplan.plan.plan_json import pose_from_entry_target
from surgiplan.twin.mesh import SurfaceMesh

# --- Slicer markups schema v1.0.3 --------------------------------------------------------------
ACCEPTED_SCHEMA = re.compile(r".*markups-schema-v1\.[0-9]+\.[0-9]+\.json#*$")  # lower-cased
TYPES = {"Fiducial", "Line", "Angle", "Curve", "ClosedCurve", "Plane", "ROI"}
MARKUP_PROPERTIES = {  # name -> check
    "type": lambda v: v in TYPES,
    "name": lambda v: isinstance(v, str),
    "coordinateSystem": lambda v: v in ("LPS", "RAS"),
    "coordinateUnits": lambda v: v in ("mm", "um"),
    "locked": lambda v: isinstance(v, bool),
    "fixedNumberOfControlPoints": lambda v: isinstance(v, bool),
    "labelFormat": lambda v: isinstance(v, str),
    "controlPoints": lambda v: isinstance(v, list),
    "measurements": lambda v: isinstance(v, list),
    "display": lambda v: isinstance(v, dict),
}
OTHER_MARKUP_PROPERTIES = {"roiType", "planeType", "sizeMode", "autoScalingSizeFactor", "center",
                           "normal", "size", "planeBounds", "objectToBase", "baseToNode",
                           "orientation"}


def _numbers(n: int, low: float = -np.inf, high: float = np.inf):
    return lambda v: (isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and low <= x <= high for x in v))


def _boolean(v) -> bool:
    return isinstance(v, bool)


def _number_at_least(low: float, high: float = np.inf):
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high


CONTROL_POINT_PROPERTIES = {
    "id": lambda v: isinstance(v, str), "label": lambda v: isinstance(v, str),
    "description": lambda v: isinstance(v, str),
    "associatedNodeID": lambda v: isinstance(v, str),
    "position": _numbers(3), "orientation": _numbers(9),
    "selected": _boolean, "locked": _boolean, "visibility": _boolean,
    "positionStatus": lambda v: v in ("undefined", "preview", "defined"),
}
GLYPH_TYPES = {"Vertex2D", "Dash2D", "Cross2D", "ThickCross2D", "Triangle2D", "Square2D",
               "Circle2D", "Diamond2D", "Arrow2D", "ThickArrow2D", "HookedArrow2D", "StarBurst2D",
               "Sphere3D", "Diamond3D"}
DISPLAY_PROPERTIES = {
    "visibility": _boolean, "opacity": _number_at_least(0.0, 1.0),
    "color": _numbers(3, 0.0, 1.0), "selectedColor": _numbers(3, 0.0, 1.0),
    "activeColor": _numbers(3, 0.0, 1.0),
    "propertiesLabelVisibility": _boolean, "pointLabelsVisibility": _boolean,
    "textScale": _number_at_least(0.0), "glyphType": lambda v: v in GLYPH_TYPES,
    "glyphScale": _number_at_least(0.0), "glyphSize": _number_at_least(0.0),
    "useGlyphScale": _boolean, "sliceProjection": _boolean,
    "lineThickness": _number_at_least(0.0),
    "snapMode": lambda v: v in ("unconstrained", "toVisibleSurface"),
}
MEASUREMENT_PROPERTIES = {
    "name": lambda v: isinstance(v, str), "enabled": _boolean,
    "value": _number_at_least(-np.inf), "units": lambda v: isinstance(v, str),
    "printFormat": lambda v: isinstance(v, str),
}


def _check(obj: dict, properties: dict, where: str) -> None:
    for key, value in obj.items():
        assert key in properties, f"{where}.{key} is not a schema v1.0.3 property"
        assert properties[key](value), f"{where}.{key} = {value!r} breaks the schema"


def check_markups_file(document: dict) -> None:
    """Every field against the schema: required ones present, types, enums and ranges."""
    assert set(document) == {"@schema", "markups"}  # both required by the schema
    assert ACCEPTED_SCHEMA.match(document["@schema"].lower())
    assert isinstance(document["markups"], list) and document["markups"]
    for m, markup in enumerate(document["markups"]):
        assert "type" in markup  # the only required property of a markup
        assert OTHER_MARKUP_PROPERTIES.isdisjoint(markup)
        _check(markup, MARKUP_PROPERTIES, f"markups[{m}]")
        for p, point in enumerate(markup["controlPoints"]):
            _check(point, CONTROL_POINT_PROPERTIES, f"markups[{m}].controlPoints[{p}]")
        for k, measurement in enumerate(markup["measurements"]):
            _check(measurement, MEASUREMENT_PROPERTIES, f"markups[{m}].measurements[{k}]")
        _check(markup["display"], DISPLAY_PROPERTIES, f"markups[{m}].display")


# --- fixtures ---------------------------------------------------------------------------------
def _incision() -> IncisionPath:
    path = np.array([[0.0, 0, 0], [1, 0, 0], [2, 1, 0], [3, 1, 0], [4, 2, 1]])
    length = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
    return IncisionPath("cut/1", "skin", path, length, 5.0, path[[0, 2, 4]], np.zeros(3),
                        np.array([0, 2, 4]))


LANDMARKS = [Landmark("xiphoid", (1.5, -2.0, 30.0), "Xiphoid"), Landmark("lm-2", (0, 0, 0))]
TRAJECTORY = ("needle-1", (10.0, -80.0, 40.0), (10.0, -20.0, 120.0))


def test_markups_follow_the_slicer_schema_field_by_field(tmp_path):
    path = write_markups(tmp_path / "plan.mrk.json", incisions=[_incision()],
                         trajectories=[TRAJECTORY], landmarks=LANDMARKS)
    document = json.loads(path.read_text())
    check_markups_file(document)
    assert document["@schema"] == MARKUPS_SCHEMA_URL
    assert [m["type"] for m in document["markups"]] == ["Curve", "Line", "Fiducial"]
    for markup in document["markups"]:
        assert markup["coordinateSystem"] == "LPS" and markup["coordinateUnits"] == "mm"
        ids = [p["id"] for p in markup["controlPoints"]]
        assert len(set(ids)) == len(ids)
        for point in markup["controlPoints"]:
            assert point["positionStatus"] == "defined"
            # identity orientation in Slicer's RAS, as Slicer writes it into an LPS file
            assert point["orientation"] == [-1, 0, 0, 0, -1, 0, 0, 0, 1]


def test_incision_is_a_curve_through_the_traced_path():
    cut = _incision()
    curve = markups_document(incisions=[cut])["markups"][0]
    assert curve["name"] == "cut/1"
    positions = np.array([p["position"] for p in curve["controlPoints"]])
    assert np.array_equal(positions, cut.path_lps_mm)  # LPS as is: no sign flip
    labels = [p["label"] for p in curve["controlPoints"]]
    assert labels == ["cut/1-1", "", "cut/1-2", "", "cut/1-3"]
    assert curve["measurements"] == [{"name": "length", "enabled": True,
                                      "value": pytest.approx(cut.length_mm), "units": "mm",
                                      "printFormat": "%-#4.4g%s"}]


def test_trajectory_is_a_line_and_landmarks_one_point_list():
    line, points = markups_document(trajectories=[TRAJECTORY], landmarks=LANDMARKS)["markups"]
    assert line["type"] == "Line" and line["name"] == "needle-1"
    assert [p["position"] for p in line["controlPoints"]] == [[10, -80, 40], [10, -20, 120]]
    assert [p["label"] for p in line["controlPoints"]] == ["entry", "target"]
    assert line["measurements"][0]["value"] == pytest.approx(100.0)
    assert points["type"] == "Fiducial" and points["measurements"] == []
    assert [(p["id"], p["label"], p["position"]) for p in points["controlPoints"]] == [
        ("xiphoid", "Xiphoid", [1.5, -2.0, 30.0]), ("lm-2", "lm-2", [0, 0, 0])]


def test_one_file_per_item_for_drag_and_drop(tmp_path):
    files = write_markups_files(tmp_path, incisions=[_incision()],
                                trajectories=[TRAJECTORY, ("needle/1", (0, 0, 0), (0, 0, 1))],
                                landmarks=LANDMARKS)
    assert [f.name for f in files] == ["incision-cut_1.mrk.json", "trajectory-needle-1.mrk.json",
                                       "trajectory-needle_1.mrk.json", "landmarks.mrk.json"]
    for file in files:
        document = json.loads(file.read_text())
        check_markups_file(document)
        assert len(document["markups"]) == 1
    clash = write_markups_files(tmp_path, trajectories=[("a/b", (0, 0, 0), (0, 0, 1)),
                                                        ("a_b", (0, 0, 0), (0, 0, 2))])
    assert [f.name for f in clash] == ["trajectory-a_b.mrk.json", "trajectory-a_b-2.mrk.json"]


def test_trajectories_from_a_plan():
    plan = Plan()
    plan._put("instruments", InstrumentPlacement(
        "n", "biopsy_needle_18g", pose_from_entry_target((0, 0, 0), (0, 0, 50)), 50.0,
        (0, 0, 0), (0, 0, 50)))
    pose = np.eye(4)
    pose[:3, 3] = [5, 5, 5]
    plan._put("instruments", InstrumentPlacement("port", "trocar_5mm", pose, 20.0))
    plan._put("instruments", InstrumentPlacement("idle", "scalpel", np.eye(4)))
    found = trajectories_from_plan(plan)
    assert found == [("n", (0.0, 0.0, 0.0), (0.0, 0.0, 50.0)),
                     ("port", (5.0, 5.0, -15.0), (5.0, 5.0, 5.0))]


def test_nothing_to_export_and_bad_trajectories_are_refused(tmp_path):
    with pytest.raises(InputError, match="nothing to export"):
        write_markups(tmp_path / "empty.mrk.json")
    with pytest.raises(InputError, match="trajectory 't' entry must be three"):
        markups_document(trajectories=[("t", (0, 0), (0, 0, 1))])
    with pytest.raises(InputError, match="not a folder"):
        write_markups_files(tmp_path / "missing", landmarks=LANDMARKS)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_traced_incision_exports_its_geodesic(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=50.0)
    traced = trace_incision(Incision("cut", "skin", ((50, 0, 0), (0, 50, 0))),
                            SurfaceMesh(sphere.vertices, sphere.faces))
    document = json.loads(write_markups(tmp_path / "cut.mrk.json", incisions=[traced]).read_text())
    check_markups_file(document)
    curve = document["markups"][0]
    assert np.allclose([p["position"] for p in curve["controlPoints"]], traced.path_lps_mm)
    assert curve["measurements"][0]["value"] == pytest.approx(50 * np.pi / 2, rel=0.01)
