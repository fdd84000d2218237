"""Synthetic scenes for the rule tests: sphere twins with tissues, placements, findings."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from surgiplan.plan.catalogue import Catalogue, Instrument, load_catalogue
from surgiplan.plan.placement import place_along_path
from surgiplan.plan.trajectory import Crossing, Trajectory
from surgiplan.risk.context import Clearance, InstrumentFindings, RiskContext
from surgiplan.risk.registry import load_thresholds
from surgiplan.twin.twin import PatientTwin
from tests.plan.twins import sphere_twin


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return load_catalogue()


def instrument(instrument_id: str) -> Instrument:
    return catalogue().get(instrument_id)


def telescope() -> Instrument:
    """A 10 mm laparoscope (the shipped catalogue has none)."""
    row = {"id": "laparoscope_10mm", "name": "10 mm laparoscope", "category": "probe",
           "laparoscopic": True, "shaft_radius_mm": 5.0, "working_length_mm": 330.0,
           "tip": {"type": "blunt", "length_mm": 0.0},
           "primitives": [{"kind": "capsule", "radius_mm": 5.0,
                           "segment": [[0, 0, -330], [0, 0, 0]]}]}
    return Instrument.from_json(row, "test")


def tissue_twin(spheres: dict[str, tuple]) -> PatientTwin:
    """Spheres ``name: (centre, radius_mm, tissue, critical)`` with their tissue types set."""
    twin = sphere_twin({name: (spec[0], spec[1], spec[3]) for name, spec in spheres.items()})
    for name, spec in spheres.items():
        model = twin.structures[name]
        model.info = dataclasses.replace(model.info, tissue=spec[2], critical=spec[3])
    return twin


def body_twin() -> PatientTwin:
    """Skin r=100, liver r=50 at y=20 with a tumour r=10 at y=40, portal vein r=8 at x=60,
    y=-60, a rib r=6 at x=-40, y=-80, and the stomach r=20 at x=-50, y=30."""
    return tissue_twin({
        "skin": ((0, 0, 0), 100.0, "skin", False),
        "liver": ((0, 20, 0), 50.0, "liver", False),
        "tumour": ((0, 40, 0), 10.0, "tumour", False),
        "portal_vein": ((60, -60, 0), 8.0, "vessel", True),
        "rib": ((-40, -80, 0), 6.0, "bone", False),
        "stomach": ((-50, 30, 0), 20.0, "stomach", False),
    })


def needle(entry, target, *, item_id: str = "needle-1",
           instrument_id: str = "biopsy_needle_18g"):
    return place_along_path(item_id, instrument(instrument_id), entry, target)


def straight_trajectory(entry, target, crossings: list[tuple[str, float, float, bool]]):
    """A :class:`Trajectory` with the given ``(structure, enter_mm, leave_mm, critical)``."""
    entry, target = np.asarray(entry, dtype=float), np.asarray(target, dtype=float)
    length = float(np.linalg.norm(target - entry))
    return Trajectory(entry, target, length, (target - entry) / length, None, None,
                      [Crossing(*c) for c in crossings])


def findings(placement, **fields) -> InstrumentFindings:
    return InstrumentFindings(placement, instrument(placement.instrument)
                              if placement.instrument in catalogue() else telescope(), **fields)


def clearance(distance_mm: float, point=(0.0, 0.0, 0.0)) -> Clearance:
    return Clearance(distance_mm, point, point)


def context(*instruments: InstrumentFindings, overrides: dict | None = None,
            **fields) -> RiskContext:
    """A context holding ``instruments`` (by id) and any other fields."""
    return RiskContext(thresholds=load_thresholds(overrides=overrides),
                       instruments={f.item_id: f for f in instruments}, **fields)


def only(found, rule: str):
    """The complications of ``rule`` in ``found``."""
    return [c for c in found if c.rule == rule]
