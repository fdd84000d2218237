"""Click tools: clicks become one session call each; errors keep the session unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.session import CaseSession
from surgiplan.case.structures import empty_case
from surgiplan.imaging.volume import Volume
from surgiplan.ui.plan_tools import PlanTools


@pytest.fixture
def session() -> CaseSession:
    volume = Volume(np.zeros((10, 12, 14), dtype=np.int16), np.eye(4), "CT")
    return CaseSession(empty_case(volume, "/scan"))


def test_place_tool_places_the_instrument_from_two_clicks(qtbot, session):
    tools = PlanTools(lambda: session)
    with qtbot.waitSignal(tools.committed) as blocker:
        tools.start("place", "biopsy_needle_18g")
        tools.click((0.0, 0.0, 0.0))
        assert tools.mode == "place" and len(tools.points) == 1
        tools.click((0.0, 40.0, 0.0))
    collection, item_id = blocker.args
    placement = session.case.plan.instruments[item_id]
    assert collection == "instruments" and tools.mode == "navigate"
    np.testing.assert_allclose(placement.tip_lps_mm, (0.0, 40.0, 0.0), atol=1e-9)
    np.testing.assert_allclose(placement.axis, (0.0, 1.0, 0.0), atol=1e-9)


def test_a_failed_placement_keeps_the_entry_and_reports(qtbot, session):
    tools = PlanTools(lambda: session)
    tools.start("place", "biopsy_needle_18g")
    tools.click((0.0, 0.0, 0.0))
    with qtbot.waitSignal(tools.error) as blocker:
        tools.click((0.0, 0.0, 0.0))  # target on the entry: no direction
    assert blocker.args[0]
    assert tools.mode == "place" and len(tools.points) == 1
    assert not session.case.plan.instruments


def test_incision_collects_points_and_finishes_on_enter(qtbot, session):
    tools = PlanTools(lambda: session)
    tools.start("incision", "skin")
    with qtbot.waitSignal(tools.error):
        tools.finish()  # one point is not enough (none yet)
    with qtbot.waitSignal(tools.error):
        tools.click((1.0, 2.0, 3.0), structure="liver")  # not on the skin
    tools.click((1.0, 2.0, 3.0), structure="skin")
    tools.click((5.0, 2.0, 3.0))
    # the session checks the structure exists: this empty twin has no skin
    with qtbot.waitSignal(tools.error) as blocker:
        tools.finish()
    assert "skin" in blocker.args[0] and not session.case.plan.incisions


def test_seed_and_measure_tools(qtbot, session):
    tools = PlanTools(lambda: session)
    tools.start("seed", "tumour")
    with qtbot.waitSignal(tools.seed_requested) as blocker:
        tools.click((1.0, 2.0, 3.0))
    assert blocker.args[0] == "tumour" and tools.mode == "navigate"
    np.testing.assert_allclose(blocker.args[1], (1.0, 2.0, 3.0))
    tools.start("measure")
    with qtbot.waitSignal(tools.committed) as blocker:
        tools.click((0.0, 0.0, 0.0))
        tools.click((3.0, 4.0, 0.0))
    measurement = session.case.plan.measurements[blocker.args[1]]
    assert measurement.kind == "point_point"
    tools.start("measure")
    tools.click((0.0, 0.0, 0.0))
    tools.cancel()
    assert tools.mode == "navigate" and not tools.points
