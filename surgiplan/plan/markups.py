"""3D Slicer markups export: incisions, trajectories and landmarks as ``.mrk.json`` in LPS mm.

The files follow Slicer's markups JSON schema v1.0.3
(``Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json`` in the Slicer
repository) and are written the way Slicer's own ``vtkMRMLMarkupsJsonStorageNode`` writes them,
so they open over the same scan (Slicer converts LPS to its RAS on reading):

- an incision is a ``Curve`` whose control points are the traced geodesic itself, dense (one
  point per triangle edge crossed), so Slicer's curve through them is our cut; its
  ``length`` measurement holds our geodesic length in mm (Slicer recomputes its own on load).
  The schema has no field for the curve interpolation, so none is written;
- a trajectory (instrument path) is a ``Line`` from entry to target, with its ``length``;
- landmarks are one ``Fiducial`` (point list) markup, one control point per landmark.

One file may hold several markups: Slicer loads each as its own node. For drag-and-drop of
separate nodes, :func:`write_markups_files` writes one file per item instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.io.atomic import atomic_path
from surgiplan.plan.incision import IncisionPath
from surgiplan.plan.model import Landmark, Plan, Point, as_point

MARKUPS_SCHEMA_URL = ("https://raw.githubusercontent.com/slicer/slicer/main/Modules/Loadable/"
                      "Markups/Resources/Schema/markups-schema-v1.0.3.json#")
# Slicer's control point orientation for identity in RAS, as it writes it in LPS files.
_ORIENTATION_LPS = [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0]
_COLOURS = {"Curve": [1.0, 0.35, 0.3], "Line": [1.0, 0.85, 0.2], "Fiducial": [0.3, 0.8, 1.0]}

TrajectoryLine = tuple[str, Sequence[float], Sequence[float]]
"""(id, entry_lps_mm, target_lps_mm) of a straight instrument path."""


def _control_point(point_id: str, position, label: str = "", description: str = "") -> dict:
    return {"id": point_id, "label": label, "description": description, "associatedNodeID": "",
            "position": [float(v) for v in position], "orientation": list(_ORIENTATION_LPS),
            "selected": True, "locked": True, "visibility": True, "positionStatus": "defined"}


def _length(value_mm: float) -> list[dict]:
    return [{"name": "length", "enabled": True, "value": float(value_mm), "units": "mm",
             "printFormat": "%-#4.4g%s"}]


def _display(kind: str) -> dict:
    colour = _COLOURS[kind]
    return {"visibility": True, "opacity": 1.0, "color": colour, "selectedColor": colour,
            "activeColor": [0.4, 1.0, 0.0], "propertiesLabelVisibility": kind != "Fiducial",
            "pointLabelsVisibility": kind != "Curve", "textScale": 3.0, "glyphType": "Sphere3D",
            "glyphScale": 1.0 if kind == "Curve" else 2.0, "glyphSize": 5.0,
            "useGlyphScale": True, "sliceProjection": False, "lineThickness": 0.2,
            "snapMode": "unconstrained"}


def _markup(kind: str, name: str, points: list[dict], measurements: list[dict]) -> dict:
    return {"type": kind, "name": name, "coordinateSystem": "LPS", "coordinateUnits": "mm",
            "locked": True, "fixedNumberOfControlPoints": False,
            "labelFormat": "%N-%d", "controlPoints": points, "measurements": measurements,
            "display": _display(kind)}


def incision_markup(incision: IncisionPath) -> dict:
    """A ``Curve`` markup through the dense traced path (picked points labelled)."""
    path = np.asarray(incision.path_lps_mm, dtype=float).reshape(-1, 3)
    picked = {int(index): number for number, index in enumerate(incision.point_indices, 1)}
    points = []
    for i, position in enumerate(path):
        number = picked.get(i)
        label, description = ((f"{incision.incision_id}-{number}", f"picked point {number}")
                              if number else ("", ""))
        points.append(_control_point(str(i + 1), position, label, description))
    return _markup("Curve", incision.incision_id, points, _length(incision.length_mm))


def trajectory_markup(trajectory: TrajectoryLine) -> dict:
    """A ``Line`` markup from entry to target."""
    item_id, entry, target = _trajectory(trajectory)
    points = [_control_point("1", entry, "entry"), _control_point("2", target, "target")]
    length = float(np.linalg.norm(np.subtract(target, entry)))
    return _markup("Line", item_id, points, _length(length))


def landmarks_markup(landmarks: Iterable[Landmark], name: str = "landmarks") -> dict:
    """One ``Fiducial`` (point list) markup holding every landmark."""
    points = [_control_point(m.id, m.point_lps_mm, m.label or m.id, m.id) for m in landmarks]
    return _markup("Fiducial", name, points, [])


def _trajectory(trajectory: TrajectoryLine) -> tuple[str, Point, Point]:
    try:
        item_id, entry, target = trajectory
    except (TypeError, ValueError):
        raise InputError("a trajectory must be (id, entry_lps_mm, target_lps_mm)") from None
    if not isinstance(item_id, str) or not item_id:
        raise InputError(f"trajectory id {item_id!r} must be a non-empty string")
    return (item_id, as_point(entry, f"trajectory {item_id!r} entry"),
            as_point(target, f"trajectory {item_id!r} target"))


def markups_document(*, incisions: Iterable[IncisionPath] = (),
                     trajectories: Iterable[TrajectoryLine] = (),
                     landmarks: Iterable[Landmark] = ()) -> dict[str, Any]:
    """The markups JSON document (``{"@schema": ..., "markups": [...]}``) for the items.

    Raises
    ------
    InputError
        When there is nothing to export (Slicer refuses a file without markups).
    """
    markups = [incision_markup(i) for i in incisions]
    markups += [trajectory_markup(t) for t in trajectories]
    landmarks = list(landmarks)
    if landmarks:
        markups.append(landmarks_markup(landmarks))
    if not markups:
        raise InputError("nothing to export as Slicer markups: give at least one incision, "
                         "trajectory or landmark")
    return {"@schema": MARKUPS_SCHEMA_URL, "markups": markups}


def _write(path: Path, document: dict) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(document, indent=4, allow_nan=False) + "\n",
                             encoding="utf-8")
    return path


def write_markups(path: str | os.PathLike[str], *, incisions: Iterable[IncisionPath] = (),
                  trajectories: Iterable[TrajectoryLine] = (),
                  landmarks: Iterable[Landmark] = ()) -> Path:
    """Write the items as one Slicer markups file (``.mrk.json``), atomically.

    Parameters
    ----------
    path : path-like
        Target file; ``.mrk.json`` is what Slicer recognises as markups.
    incisions : iterable of IncisionPath
        Traced incisions (see :func:`surgiplan.plan.incision.trace_incision`), LPS mm.
    trajectories : iterable of (id, entry_lps_mm, target_lps_mm)
        Straight instrument paths, LPS mm (see :func:`trajectories_from_plan`).
    landmarks : iterable of Landmark
        Written together as one point list named ``landmarks``.

    Returns
    -------
    Path
        The file written.
    """
    document = markups_document(incisions=incisions, trajectories=trajectories,
                                landmarks=landmarks)
    return _write(Path(path), document)


def write_markups_files(folder: str | os.PathLike[str], *,
                        incisions: Iterable[IncisionPath] = (),
                        trajectories: Iterable[TrajectoryLine] = (),
                        landmarks: Iterable[Landmark] = ()) -> tuple[Path, ...]:
    """Write one markups file per incision and trajectory, plus ``landmarks.mrk.json``.

    Files are named ``incision-<id>.mrk.json`` and ``trajectory-<id>.mrk.json`` (characters
    unsafe in file names become ``_``; a clash gets a ``-2`` suffix). Returns the files written,
    in that order.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"cannot export markups into {folder}: it is not a folder; create it")
    named = [(f"incision-{i.incision_id}", incision_markup(i)) for i in incisions]
    named += [(f"trajectory-{t[0]}", trajectory_markup(t)) for t in trajectories]
    landmarks = list(landmarks)
    if landmarks:
        named.append(("landmarks", landmarks_markup(landmarks)))
    if not named:
        raise InputError("nothing to export as Slicer markups: give at least one incision, "
                         "trajectory or landmark")
    written: list[Path] = []
    used: set[str] = set()
    for stem, markup in named:
        name = _file_stem(stem, used)
        written.append(_write(folder / f"{name}.mrk.json",
                              {"@schema": MARKUPS_SCHEMA_URL, "markups": [markup]}))
    return tuple(written)


def _file_stem(stem: str, used: set[str]) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)
    name, n = safe, 1
    while name.lower() in used:
        n += 1
        name = f"{safe}-{n}"
    used.add(name.lower())
    return name


def trajectories_from_plan(plan: Plan) -> list[tuple[str, Point, Point]]:
    """(id, entry, target) of every instrument of ``plan`` with a straight path (LPS mm).

    An instrument placed from two points gives them; one placed by pose gives its tip as the
    target and ``tip - axis * insertion_depth_mm`` as the entry; one with no insertion depth has
    no path and is left out.
    """
    found = []
    for item in plan.instruments.values():
        if item.entry_lps_mm is not None and item.target_lps_mm is not None:
            found.append((item.id, item.entry_lps_mm, item.target_lps_mm))
        elif item.insertion_depth_mm > 0:
            tip = item.tip_lps_mm
            entry = tip - item.axis * item.insertion_depth_mm
            found.append((item.id, tuple(map(float, entry)), tuple(map(float, tip))))
    return found
