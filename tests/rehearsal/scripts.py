"""Scripted moves on the bundled sample case (its plan and its phantom's known facts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from surgiplan.rehearsal.script import RehearsalScript

FACTS = Path(__file__).resolve().parents[2] / "data" / "sample_case" / "facts.json"


def portal_branch_middle() -> np.ndarray:
    """The middle of the right portal branch centreline (LPS mm), inside the vein."""
    facts = json.loads(FACTS.read_text())
    branch = next(s for s in facts["vessels"]["portal_vein"]["segments"]
                  if s["name"] == "right_branch")
    line = np.asarray(branch["centreline_lps_mm"], dtype=float)
    return line[len(line) // 2]


def straight_script(instrument: str, entry, target, *, before_mm: float = 10.0,
                    duration_s: float = 3.0, count: int = 31) -> RehearsalScript:
    """A minimum-jerk advance from ``before_mm`` outside ``entry`` to ``target``, the shaft
    along entry -> target."""
    entry, target = np.asarray(entry, dtype=float), np.asarray(target, dtype=float)
    axis = (target - entry) / np.linalg.norm(target - entry)
    start = entry - before_mm * axis
    t = np.linspace(0.0, duration_s, count)
    s = t / duration_s
    tips = start + np.outer(10 * s**3 - 15 * s**4 + 6 * s**5, target - start)
    return RehearsalScript.from_arrays(instrument, t, tips, np.tile(axis, (count, 1)))


def following_plan(case) -> RehearsalScript:
    """needle-1 along its planned path to its planned target."""
    placement = case.plan.instruments["needle-1"]
    return straight_script("needle-1", placement.entry_lps_mm, placement.target_lps_mm)


def into_portal_vein(case) -> RehearsalScript:
    """needle-2 from its planned entry driven on into the right portal branch."""
    placement = case.plan.instruments["needle-2"]
    return straight_script("needle-2", placement.entry_lps_mm, portal_branch_middle())
