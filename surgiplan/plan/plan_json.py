"""Plans as JSON, for scripted scenarios, tests and batch checking.

Schema (version 1; every coordinate in patient LPS millimetres)::

    {
      "schema_version": 1,                                   # optional on input
      "instruments": [{
          "id": "needle-1",                                  # unique among instruments
          "type": "biopsy_needle_18g",                       # instrument catalogue id
          "entry_lps_mm": [x, y, z], "target_lps_mm": [x, y, z],
          "insertion_depth_mm": 42.0,                        # optional: |target - entry|
          "pose_lps": [[...4...], [...], [...], [...]],      # optional 4x4 rigid tip pose, rows
          "pivot_lps_mm": [x, y, z]                          # optional port pivot
      }],
      "incisions": [{"id": "cut-1", "structure": "skin",
                     "points_lps_mm": [[x, y, z], [x, y, z], ...], "depth_mm": 5.0}],
      "landmarks": [{"id": "lm-1", "point_lps_mm": [x, y, z], "label": "xiphoid"}],
      "measurements": [{"id": "m-1", "kind": "point_point",
                        "points_lps_mm": [[x, y, z], [x, y, z]], "structures": []}],
      "thresholds": {"safety_margin": {"thresholds": {"warning_mm": 2.0}}}
    }

``thresholds`` overrides the complication rules' thresholds for this plan: rule id -> partial
entry of ``data/risk_thresholds.json`` (``thresholds``, ``per_structure``, ``per_tissue``,
``per_condition``, ``settings``, ``enabled``), checked against that table
(:mod:`surgiplan.plan.overrides`).

Every collection is optional. An instrument needs either ``entry_lps_mm`` and
``target_lps_mm`` (its tip is put at the target, its z axis along target - entry, its x axis
the direction perpendicular to z closest to patient left +x, or +y for a left-right axis) or a
``pose_lps``; when both are given the pose wins and the points are kept as given. ``null``
means absent for the optional fields. Unknown keys are errors, so a typo never passes
silently. The catalogue is not consulted here: callers check ``type`` against it.
:data:`PLAN_SCHEMA` states the same as a JSON Schema (draft 2020-12) for documentation and
external validators.

Written files carry every field, so ``plan_from_json(plan_to_json(plan))`` gives back an equal
plan.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.io.atomic import atomic_path
from surgiplan.plan.commands import AddItem, Macro
from surgiplan.plan.model import (
    COLLECTIONS,
    MEASUREMENT_KINDS,
    Incision,
    InstrumentPlacement,
    Landmark,
    Measurement,
    Plan,
)
from surgiplan.plan.overrides import OVERRIDES_SCHEMA, SetThresholds, validate_overrides
from surgiplan.plan.placement import pose_along

SCHEMA_VERSION = 1
_MIN_PATH_MM = 1e-3  # shortest entry -> target accepted, as in placement.place_along_path

_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_OPTIONAL_POINT = {"oneOf": [_POINT, {"type": "null"}]}
_ID = {"type": "string", "minLength": 1}


def _item(required: list[str], properties: dict) -> dict:
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": properties}


PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "SurgiPlan plan",
    "description": "Incisions, instrument placements, landmarks and measurements in LPS mm.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "instruments": {"type": "array", "items": _item(["id", "type"], {
            "id": _ID, "type": {"type": "string", "minLength": 1,
                                "description": "instrument catalogue id"},
            "entry_lps_mm": _OPTIONAL_POINT, "target_lps_mm": _OPTIONAL_POINT,
            "insertion_depth_mm": {"oneOf": [{"type": "number", "minimum": 0},
                                             {"type": "null"}]},
            "pose_lps": {"oneOf": [{"type": "array", "minItems": 4, "maxItems": 4,
                                    "items": {"type": "array", "minItems": 4, "maxItems": 4,
                                              "items": {"type": "number"}}},
                                   {"type": "null"}]},
            "pivot_lps_mm": _OPTIONAL_POINT})},
        "incisions": {"type": "array", "items": _item(["id", "structure", "points_lps_mm"], {
            "id": _ID, "structure": {"type": "string", "minLength": 1},
            "points_lps_mm": {"type": "array", "items": _POINT, "minItems": 2},
            "depth_mm": {"oneOf": [{"type": "number", "exclusiveMinimum": 0},
                                   {"type": "null"}]}})},
        "landmarks": {"type": "array", "items": _item(["id", "point_lps_mm"], {
            "id": _ID, "point_lps_mm": _POINT, "label": {"type": ["string", "null"]}})},
        "measurements": {"type": "array", "items": _item(["id", "kind"], {
            "id": _ID, "kind": {"enum": list(MEASUREMENT_KINDS)},
            "points_lps_mm": {"type": "array", "items": _POINT},
            "structures": {"type": "array", "items": {"type": "string"}}})},
        "thresholds": OVERRIDES_SCHEMA,
    },
}

_TOP_KEYS = tuple(PLAN_SCHEMA["properties"])


@dataclass(frozen=True)
class PlanItems:
    """The items of a plan file, ready to add to a plan as one undoable step.

    ``thresholds`` holds the file's validated threshold overrides (empty without any).
    """

    incisions: tuple[Incision, ...] = ()
    instruments: tuple[InstrumentPlacement, ...] = ()
    landmarks: tuple[Landmark, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_macro(self, text: str = "Load plan file") -> Macro:
        """One :class:`Macro` adding every item and merging the threshold overrides over the
        plan's (all or nothing; one undo step)."""
        commands = [AddItem(name, item) for name in COLLECTIONS for item in getattr(self, name)]
        if self.thresholds:
            commands.append(SetThresholds(self.thresholds))
        return Macro(commands, text=text)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _point(value) -> list[float] | None:
    return None if value is None else [float(v) for v in value]


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """``plan`` as a JSON-ready dict with every field (schema version 1)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "instruments": [{"id": i.id, "type": i.instrument, "entry_lps_mm": _point(i.entry_lps_mm),
                         "target_lps_mm": _point(i.target_lps_mm),
                         "insertion_depth_mm": float(i.insertion_depth_mm),
                         "pose_lps": [list(row) for row in i.pose_lps],
                         "pivot_lps_mm": _point(i.pivot_lps_mm)}
                        for i in plan.instruments.values()],
        "incisions": [{"id": c.id, "structure": c.structure,
                       "points_lps_mm": [_point(p) for p in c.points_lps_mm],
                       "depth_mm": float(c.depth_mm)} for c in plan.incisions.values()],
        "landmarks": [{"id": m.id, "point_lps_mm": _point(m.point_lps_mm), "label": m.label}
                      for m in plan.landmarks.values()],
        "measurements": [{"id": m.id, "kind": m.kind,
                          "points_lps_mm": [_point(p) for p in m.points_lps_mm],
                          "structures": list(m.structures)} for m in plan.measurements.values()],
        "thresholds": copy.deepcopy(plan.thresholds),
    }


def write_plan_json(plan: Plan, path: str | os.PathLike[str]) -> Path:
    """Write ``plan`` to ``path`` as indented JSON (ASCII, UTF-8 safe), atomically; returns it."""
    text = json.dumps(plan_to_json(plan), indent=2, allow_nan=False)
    with atomic_path(path) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def read_plan_items(path: str | os.PathLike[str]) -> PlanItems:
    """Read a plan file's items (see :func:`items_from_json`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"plan file {path} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read plan file {path} ({exc}): give a UTF-8 JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"plan file {path} is not valid JSON (line {exc.lineno}, column "
                         f"{exc.colno}: {exc.msg}): fix the file") from None
    return items_from_json(data)


def read_plan_json(path: str | os.PathLike[str]) -> Plan:
    """A new :class:`Plan` holding the items of the plan file at ``path``."""
    return _fresh_plan(read_plan_items(path))


def plan_from_json(data: Any) -> Plan:
    """A new :class:`Plan` from a parsed plan document (see :func:`items_from_json`)."""
    return _fresh_plan(items_from_json(data))


def _fresh_plan(items: PlanItems) -> Plan:
    plan = Plan()
    items.to_macro().do(plan)
    return plan


def items_from_json(data: Any) -> PlanItems:
    """Check a parsed plan document and build its items.

    Raises
    ------
    InputError
        Naming the JSON path of the first problem (``instruments[2].entry_lps_mm``) and the way
        out: wrong types, missing or unknown keys, duplicate ids, unsupported schema version,
        threshold overrides naming an unknown rule, section, threshold or setting.
    """
    doc = _object(data, "the plan", _TOP_KEYS, ())
    version = doc.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise InputError(f"schema_version {version!r} is not supported: this SurgiPlan reads "
                         f"version {SCHEMA_VERSION}; update SurgiPlan or convert the file")
    readers = {"incisions": _incision, "instruments": _instrument, "landmarks": _landmark,
               "measurements": _measurement}
    found = {}
    for name, reader in readers.items():
        entries = doc.get(name, [])
        if not isinstance(entries, list):
            raise InputError(f"{name} must be a list of objects: write \"{name}\": [...]")
        found[name] = tuple(reader(entry, f"{name}[{i}]") for i, entry in enumerate(entries))
        _check_unique(found[name], name)
    thresholds = doc.get("thresholds")
    found["thresholds"] = {} if thresholds is None else validate_overrides(thresholds)
    return PlanItems(**found)


def _check_unique(items: tuple, collection: str) -> None:
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in first:
            raise InputError(f"{collection}[{index}].id {item.id!r} is already used by "
                             f"{collection}[{first[item.id]}]: give every {collection[:-1]} "
                             "its own id")
        first[item.id] = index


def _object(value: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a JSON object {{...}}, not {_kind(value)}")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise InputError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: "
                         f"allowed keys are {', '.join(allowed)}")
    missing = [key for key in required if value.get(key) is None]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}: add "
                         f"{'it' if len(missing) == 1 else 'them'}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where} must be a non-empty string, not {_kind(value)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def _point3(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise InputError(f"{where} must be three numbers [x, y, z] in LPS mm, not {value!r}")
    x, y, z = (_number(v, f"{where}[{i}]") for i, v in enumerate(value))
    return x, y, z


def _points(value: Any, where: str, minimum: int = 0) -> tuple[tuple[float, float, float], ...]:
    if not isinstance(value, list) or len(value) < minimum:
        raise InputError(f"{where} must be a list of at least {minimum} points "
                         "[[x, y, z], ...] in LPS mm")
    return tuple(_point3(p, f"{where}[{i}]") for i, p in enumerate(value))


def _optional(entry: dict, key: str, where: str, read) -> Any:
    value = entry.get(key)
    return None if value is None else read(value, f"{where}.{key}")


def _build(factory, where: str, *args, **kwargs):
    """Build a model item; its own checks become errors naming ``where``."""
    try:
        return factory(*args, **kwargs)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


_INSTRUMENT_KEYS = tuple(PLAN_SCHEMA["properties"]["instruments"]["items"]["properties"])
_INCISION_KEYS = tuple(PLAN_SCHEMA["properties"]["incisions"]["items"]["properties"])
_LANDMARK_KEYS = tuple(PLAN_SCHEMA["properties"]["landmarks"]["items"]["properties"])
_MEASUREMENT_KEYS = tuple(PLAN_SCHEMA["properties"]["measurements"]["items"]["properties"])


def _incision(entry: Any, where: str) -> Incision:
    entry = _object(entry, where, _INCISION_KEYS, ("id", "structure", "points_lps_mm"))
    depth = _optional(entry, "depth_mm", where, _number)
    if depth is not None and depth <= 0:
        raise InputError(f"{where}.depth_mm must be positive (mm), not {depth!r}")
    return _build(Incision, where, _string(entry["id"], f"{where}.id"),
                  _string(entry["structure"], f"{where}.structure"),
                  _points(entry["points_lps_mm"], f"{where}.points_lps_mm", 2),
                  **({} if depth is None else {"depth_mm": depth}))


def _landmark(entry: Any, where: str) -> Landmark:
    entry = _object(entry, where, _LANDMARK_KEYS, ("id", "point_lps_mm"))
    label = entry.get("label")
    if label is not None and not isinstance(label, str):
        raise InputError(f"{where}.label must be a string, not {_kind(label)}")
    return _build(Landmark, where, _string(entry["id"], f"{where}.id"),
                  _point3(entry["point_lps_mm"], f"{where}.point_lps_mm"), label or "")


def _measurement(entry: Any, where: str) -> Measurement:
    entry = _object(entry, where, _MEASUREMENT_KEYS, ("id", "kind"))
    kind = _string(entry["kind"], f"{where}.kind")
    if kind not in MEASUREMENT_KINDS:
        raise InputError(f"{where}.kind {kind!r} is unknown: use one of "
                         f"{', '.join(MEASUREMENT_KINDS)}")
    structures = [] if entry.get("structures") is None else entry["structures"]
    if not isinstance(structures, list):
        raise InputError(f"{where}.structures must be a list of structure names")
    names = tuple(_string(s, f"{where}.structures[{i}]") for i, s in enumerate(structures))
    return _build(Measurement, where, _string(entry["id"], f"{where}.id"), kind,
                  _optional(entry, "points_lps_mm", where, _points) or (), names)


def _instrument(entry: Any, where: str) -> InstrumentPlacement:
    entry = _object(entry, where, _INSTRUMENT_KEYS, ("id", "type"))
    item_id = _string(entry["id"], f"{where}.id")
    entry_mm = _optional(entry, "entry_lps_mm", where, _point3)
    target_mm = _optional(entry, "target_lps_mm", where, _point3)
    pose = _optional(entry, "pose_lps", where, _pose)
    depth = _optional(entry, "insertion_depth_mm", where, _number)
    if depth is not None and depth < 0:
        raise InputError(f"{where}.insertion_depth_mm must be zero or more (mm), not {depth!r}")
    if pose is None:
        if entry_mm is None or target_mm is None:
            raise InputError(f"{where} needs entry_lps_mm and target_lps_mm (or a 4x4 "
                             "pose_lps): add the missing point")
        pose = pose_from_entry_target(entry_mm, target_mm, where=where)
    if depth is None and entry_mm is not None and target_mm is not None:
        depth = float(np.linalg.norm(np.subtract(target_mm, entry_mm)))
    return _build(InstrumentPlacement, where, item_id, _string(entry["type"], f"{where}.type"),
                  pose, 0.0 if depth is None else depth, entry_mm, target_mm,
                  _optional(entry, "pivot_lps_mm", where, _point3))


def _pose(value: Any, where: str) -> tuple[tuple[float, ...], ...]:
    if not isinstance(value, list) or len(value) != 4 or not all(
            isinstance(row, list) and len(row) == 4 for row in value):
        raise InputError(f"{where} must be a 4x4 matrix [[...4 numbers...], x4] (rows), "
                         "a rigid transform in LPS mm")
    return tuple(tuple(_number(v, f"{where}[{r}][{c}]") for c, v in enumerate(row))
                 for r, row in enumerate(value))


def pose_from_entry_target(entry_lps_mm, target_lps_mm, *,
                           where: str = "instrument") -> tuple[tuple[float, ...], ...]:
    """(4, 4) rigid tip pose for a straight path from entry to target (LPS mm).

    Column 3 is the target (the tip); column 2 the unit axis entry -> target; column 0 the unit
    vector perpendicular to it closest to patient left (+x), or to posterior (+y) when the axis
    is within about 8 degrees of left-right (|axis . x| >= 0.99, the rule of
    ``placement.frame_along``); column 1 completes a right-handed frame.
    """
    entry, target = np.asarray(entry_lps_mm, float), np.asarray(target_lps_mm, float)
    axis = target - entry
    if float(np.linalg.norm(axis)) < _MIN_PATH_MM:
        raise InputError(f"{where}: entry and target are the same point: move the target")
    return tuple(tuple(float(v) for v in row) for row in pose_along(axis, target))
