"""The registry: evaluate_all ordering, rule selection, switching off, rehearsal time."""

from __future__ import annotations

import pytest

from surgiplan.errors import InputError
from surgiplan.risk.context import AblationZone, ClashFindings, StrainFindings
from surgiplan.risk.model import Severity
from surgiplan.risk.registry import RULES, Rule, evaluate_all, get_rule, register, rules
from tests.risk.scenes import (
    clearance,
    context,
    findings,
    needle,
    straight_trajectory,
    tissue_twin,
)


def _busy_context(**fields):
    """One finding for each of five rules, of known severities."""
    twin = tissue_twin({"tumour": ((0, 0, 0), 14.0, "tumour", False),
                        "portal_vein": ((50, 0, 0), 5.0, "vessel", True)})
    trajectory = straight_trajectory((0, 0, 100), (0, 0, 0),
                                     [("portal_vein", 40.0, 45.0, True)])
    probe = needle((0, 0, 100), (0, 0, 0), instrument_id="ablation_probe")
    stub = findings(probe, target_structure="tumour", trajectory=trajectory,
                    clearances={"hepatic_artery": clearance(2.0)},
                    ablation_zone=AblationZone((0, 0, 0), (20.0, 20.0, 20.0)))
    return context(stub, twin=twin, clashes=[ClashFindings("a", "b", 3.0)],
                   strains=[StrainFindings("liver", "liver", 0.35)], **fields)


def test_evaluate_all_sorts_critical_first_then_by_rule():
    found = evaluate_all(_busy_context())
    assert [(c.severity, c.rule) for c in found] == [
        (Severity.CRITICAL, "critical_breach"), (Severity.CRITICAL, "tissue_overstrain"),
        (Severity.WARNING, "instrument_clash"), (Severity.WARNING, "safety_margin"),
        (Severity.INFO, "ablation_margin")]


def test_evaluate_all_runs_only_the_rules_asked_for():
    found = evaluate_all(_busy_context(), rule_ids=["safety_margin", "instrument_clash"])
    assert [c.rule for c in found] == ["instrument_clash", "safety_margin"]
    with pytest.raises(InputError, match="safety_margin"):
        evaluate_all(_busy_context(), rule_ids=["no_such_rule"])


def test_rules_switched_off_by_the_plan_are_skipped():
    ctx = _busy_context(overrides={"tissue_overstrain": {"enabled": False}})
    assert "tissue_overstrain" not in {c.rule for c in evaluate_all(ctx)}
    assert "tissue_overstrain" not in {
        c.rule for c in evaluate_all(ctx, rule_ids=["tissue_overstrain"])}


def test_rehearsal_time_is_stamped_on_every_complication():
    found = evaluate_all(_busy_context(time_s=12.5))
    assert found and all(c.time_s == 12.5 for c in found)
    assert found[0].to_json()["time_s"] == 12.5
    assert all(c.time_s is None for c in evaluate_all(_busy_context()))


def test_registry_lists_the_shipped_rules():
    assert set(rules()) >= {"critical_breach", "safety_margin", "trajectory_blocked",
                            "incision_over_vessel", "tissue_overstrain", "contact_force",
                            "instrument_clash", "port_geometry", "ablation_margin",
                            "resection_remnant"}
    assert repr(get_rule("safety_margin")).startswith("<Rule safety_margin")
    with pytest.raises(InputError, match="critical_breach"):
        get_rule("nope")


def test_register_rejects_missing_and_duplicate_ids():
    class NoId(Rule):
        pass

    class Impostor(Rule):
        id = "safety_margin"

    with pytest.raises(InputError, match="needs an id"):
        register(NoId)
    with pytest.raises(InputError, match="share the id"):
        register(Impostor)
    assert type(RULES["safety_margin"]).__name__ == "SafetyMargin"
