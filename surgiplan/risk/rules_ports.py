"""Rules between instruments: clashes, and laparoscopic port geometry (angles and spacing).

Port geometry is computed here from the plan's placements (cheap vector maths): each
laparoscopic placement's shaft axis (pose column 2) and its port, the pivot point (or the entry
point when it has no pivot).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from surgiplan.risk.model import Complication, Severity
from surgiplan.risk.registry import Rule, register
from surgiplan.risk.wording import number

if TYPE_CHECKING:
    from surgiplan.plan.catalogue import Instrument
    from surgiplan.plan.model import InstrumentPlacement
    from surgiplan.risk.context import RiskContext
    from surgiplan.risk.thresholds import RuleThresholds


@register
class InstrumentClash(Rule):
    """Two instruments come too close: gap between their surfaces below 5 mm (2r + 5 mm)."""

    id = "instrument_clash"
    title = "Instrument clash"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        warn, crit = limits.value("warning_gap_mm"), limits.value("critical_gap_mm")
        found = []
        for clash in context.clashes:
            gap = float(clash.distance_mm)
            pair = f"{clash.instrument_a} and {clash.instrument_b}"
            if gap <= crit:
                severity, threshold = Severity.CRITICAL, crit
                message = (f"Instruments {pair} collide: the plan cannot be carried out as "
                           "placed")
            elif gap < warn:
                severity, threshold = Severity.WARNING, warn
                message = (f"Instruments {pair} pass {number(gap)} mm apart (minimum "
                           f"{number(warn)} mm): risk of instrument clash")
            else:
                continue
            found.append(self.complication(
                context, severity, value=gap, threshold=threshold, unit="mm", message=message,
                location_lps_mm=clash.point_lps_mm, item_id=clash.instrument_a))
        return found


@dataclass(frozen=True)
class Port:
    """A laparoscopic placement: its id, shaft axis, tip and port point (LPS mm)."""

    item_id: str
    axis: np.ndarray
    tip_lps_mm: np.ndarray
    port_lps_mm: np.ndarray | None


def _port(placement: InstrumentPlacement) -> Port:
    point = placement.pivot_lps_mm or placement.entry_lps_mm
    return Port(placement.id, placement.axis, placement.tip_lps_mm,
                None if point is None else np.asarray(point, dtype=float))


def _placed(context: RiskContext) -> list[tuple[InstrumentPlacement, Instrument]]:
    """Placements with their instruments: from the findings, else from plan + catalogue."""
    if context.instruments:
        return [(f.placement, f.instrument) for f in context.instruments.values()]
    if context.plan is None or context.catalogue is None:
        return []
    return [(p, context.catalogue.get(p.instrument)) for p in context.plan.instruments.values()
            if p.instrument in context.catalogue]


def _is_telescope(instrument: Instrument, words: list[str]) -> bool:
    text = f"{instrument.id} {instrument.name}".lower()
    return any(word.lower() in text for word in words)


def _roles(context: RiskContext, limits: RuleThresholds) -> tuple[list[Port], list[Port]]:
    """Working instruments and telescopes among the laparoscopic placements.

    Trocars mark ports; they count as working ports only when no other working instrument is
    placed (a plan of ports alone).
    """
    words, port_categories = limits.setting("telescope_words"), limits.setting("port_categories")
    working, trocars, telescopes = [], [], []
    for placement, instrument in _placed(context):
        if not instrument.laparoscopic:
            continue
        if _is_telescope(instrument, words):
            telescopes.append(_port(placement))
        elif instrument.category in port_categories:
            trocars.append(_port(placement))
        else:
            working.append(_port(placement))
    return working or trocars, telescopes


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))
    return float(np.degrees(np.arccos(cos)))


@register
class PortGeometry(Rule):
    """Laparoscopic ergonomics: manipulation angle 45-75 deg and port spacing."""

    id = "port_geometry"
    title = "Port geometry (manipulation angle, port spacing)"
    severities = (Severity.WARNING,)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        working, telescopes = _roles(context, limits)
        return (self._angles(context, limits, working) + self._spacing(context, limits, working)
                + self._telescope(context, limits, working, telescopes))

    def _angles(self, context: RiskContext, limits: RuleThresholds,
                working: list[Port]) -> list[Complication]:
        low, high = limits.value("min_manipulation_deg"), limits.value("max_manipulation_deg")
        found = []
        for a, b in combinations(working, 2):
            angle = _angle_deg(a.axis, b.axis)
            if low <= angle <= high:
                continue
            message = (f"Manipulation angle between {a.item_id} and {b.item_id} is "
                       f"{number(angle)} deg (acceptable {number(low)}-{number(high)} deg, "
                       "ideal 60 deg): awkward, slower manipulation")
            found.append(self.complication(
                context, Severity.WARNING, value=angle, threshold=low if angle < low else high,
                unit="deg", message=message, location_lps_mm=(a.tip_lps_mm + b.tip_lps_mm) / 2,
                item_id=a.item_id))
        return found

    def _spacing(self, context: RiskContext, limits: RuleThresholds,
                 working: list[Port]) -> list[Complication]:
        limit = limits.value("max_working_port_spacing_mm")
        found = []
        for a, b in combinations([p for p in working if p.port_lps_mm is not None], 2):
            spacing = float(np.linalg.norm(a.port_lps_mm - b.port_lps_mm))
            if spacing <= limit:
                continue
            message = (f"Working ports of {a.item_id} and {b.item_id} are {number(spacing / 10)} "
                       f"cm apart (at most {number(limit / 10)} cm): the instruments diverge and "
                       "tire the surgeon")
            found.append(self.complication(
                context, Severity.WARNING, value=spacing, threshold=limit, unit="mm",
                message=message, location_lps_mm=(a.port_lps_mm + b.port_lps_mm) / 2,
                item_id=a.item_id))
        return found

    def _telescope(self, context: RiskContext, limits: RuleThresholds, working: list[Port],
                   telescopes: list[Port]) -> list[Complication]:
        limit = limits.value("min_telescope_port_spacing_mm")
        found = []
        for scope in (t for t in telescopes if t.port_lps_mm is not None):
            for port in (w for w in working if w.port_lps_mm is not None):
                spacing = float(np.linalg.norm(scope.port_lps_mm - port.port_lps_mm))
                if spacing >= limit:
                    continue
                message = (f"Telescope port of {scope.item_id} is {number(spacing / 10)} cm "
                           f"from the port of {port.item_id} (at least {number(limit / 10)} cm): "
                           "the instrument crowds the telescope")
                found.append(self.complication(
                    context, Severity.WARNING, value=spacing, threshold=limit, unit="mm",
                    message=message, location_lps_mm=(scope.port_lps_mm + port.port_lps_mm) / 2,
                    item_id=port.item_id))
        return found
