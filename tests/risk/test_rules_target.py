"""Rules reading the tip against its target (TipToTarget): a target a retractor moved away.

Synthetic findings, no simulation: the body twin's tumour (r = 10 mm at y = 40, inside the
liver r = 50 at y = 20) aimed at from y = 100 by an 18G needle; a retractor's push is told by
the findings (``deformed_by``, ``carried_by``, the moved tumour's surface).
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.plan.trajectory import analyse_trajectory
from surgiplan.risk.context import AblationZone, TipToTarget
from surgiplan.risk.model import Severity
from surgiplan.risk.registry import evaluate_all, get_rule
from tests.risk.scenes import body_twin, context, findings, needle, only, straight_trajectory

NOTE = ", measured on the deformed anatomy after retraction by retractor-1"


@pytest.fixture(scope="module")
def body():
    return body_twin()


def _retractor():
    return findings(needle((0, 0, 100), (0, 0, 80), item_id="retractor-1",
                           instrument_id="retractor"))


def _aimed(body, target: TipToTarget | None, *, instrument_id="biopsy_needle_18g", **fields):
    entry, tip = (0.0, 100.0, 0.0), (0.0, 40.0, 0.0)
    placement = needle(entry, tip, instrument_id=instrument_id)
    return findings(placement, target_structure="tumour", tip_to_target=target,
                    trajectory=analyse_trajectory(body, entry, tip), **fields)


def _moved(distance_mm: float, rest_mm: float, **fields) -> TipToTarget:
    return TipToTarget("tumour", distance_mm, (0.0, 38.0, 0.0), rest_mm, ("retractor-1",),
                       ("liver",), **fields)


@pytest.mark.parametrize(("distance_mm", "rest_mm", "flagged"), [
    (2.0, -10.0, True),     # inside at rest, 2 mm outside after the push
    (0.01, -0.5, True),     # no tolerance: outside is outside
    (-1.0, -10.0, False),   # still inside after the push
    (0.0, -10.0, False),    # on the surface counts as inside
    (3.0, 1.0, False),      # outside at rest already: not the push's doing
])
def test_a_push_that_moves_the_target_off_the_tip_is_critical(body, distance_mm, rest_mm,
                                                              flagged):
    ctx = context(_aimed(body, _moved(distance_mm, rest_mm)), _retractor(), twin=body)
    found = get_rule("trajectory_blocked").evaluate(ctx)
    if not flagged:
        assert found == []
        return
    [missed] = found
    assert missed.severity is Severity.CRITICAL and missed.structures == ("tumour",)
    assert missed.value == distance_mm and missed.threshold == 0.0 and missed.unit == "mm"
    assert missed.location_lps_mm == (0.0, 38.0, 0.0) and missed.item_id == "needle-1"
    assert missed.message == (
        f"Needle tip lies {distance_mm:g} mm outside the tumour ({-rest_mm:g} mm inside it at "
        f"rest): the target is out of reach as placed{NOTE}")


def test_a_tip_outside_its_target_at_rest_is_not_flagged(body):
    rest = TipToTarget("tumour", 2.0, (0.0, 38.0, 0.0), 2.0)
    ctx = context(_aimed(body, rest), twin=body)
    assert get_rule("trajectory_blocked").evaluate(ctx) == []
    assert not rest.moved_away and not rest.inside


def test_the_organ_that_carried_the_target_still_holds_it(body):
    """The moved tumour no longer meets the liver's rest crossing at the path's end."""
    entry, tip = (0.0, 100.0, 0.0), (0.0, 40.0, 0.0)
    trajectory = straight_trajectory(entry, tip, [
        ("skin", 0.0, 60.0, False), ("liver", 30.0, 55.0, False),
        ("tumour", 52.0, 58.0, False)])
    placement = needle(entry, tip)
    carried = findings(placement, target_structure="tumour", trajectory=trajectory,
                       tip_to_target=_moved(2.0, -5.0))
    assert only(evaluate_all(context(carried, _retractor(), twin=body)), "critical_breach") == []
    rest = findings(placement, target_structure="tumour", trajectory=trajectory,
                    tip_to_target=TipToTarget("tumour", 2.0, (0.0, 38.0, 0.0), 2.0))
    [breach] = only(evaluate_all(context(rest, twin=body)), "critical_breach")
    assert breach.structures == ("liver",)


def test_the_ablation_margin_reads_the_moved_tumour(body):
    zone = AblationZone((0.0, 40.0, 0.0), (15.0, 15.0, 20.0))
    rest_vertices = body.structure("tumour").surface.vertices_lps_mm
    shift = np.array([0.0, -3.0, 0.0])
    at_rest = _aimed(body, TipToTarget("tumour", -10.0, (0.0, 50.0, 0.0), -10.0),
                     instrument_id="ablation_probe", ablation_zone=zone)
    moved = _aimed(body, _moved(-7.0, -10.0, surface_lps_mm=rest_vertices + shift),
                   instrument_id="ablation_probe", ablation_zone=zone)
    [before] = get_rule("ablation_margin").evaluate(context(at_rest, twin=body))
    [after] = get_rule("ablation_margin").evaluate(context(moved, _retractor(), twin=body))
    # A 10 mm sphere centred in a 15 mm ball: 5 mm margin; moved 3 mm off-centre: 2 mm.
    assert before.value == pytest.approx(5.0, abs=0.3) and not before.message.endswith(NOTE)
    assert after.value == pytest.approx(before.value - 3.0, abs=0.3)
    assert after.message.endswith(NOTE)
    assert after.location_lps_mm[1] < 40.0 - 10.0


def test_a_renamed_target_leaves_the_tip_measure_unread(body):
    """A rehearsal keeps the planned target name while the tip measure is of where the tip is:
    a measure of another structure is not the target's."""
    elsewhere = TipToTarget("liver", 2.0, (0.0, 38.0, 0.0), -5.0, ("retractor-1",), ("liver",))
    ctx = context(_aimed(body, elsewhere), _retractor(), twin=body)
    assert ctx.instruments["needle-1"].tip_to_target_structure() is None
    assert get_rule("trajectory_blocked").evaluate(ctx) == []
    assert ctx.deformed_by("needle-1", "tumour") == ()
