"""Check plan items against the patient twin and add them as one undoable step."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.commands import UndoStack
from surgiplan.plan.incision import IncisionPath, trace_incision
from surgiplan.plan.model import Plan
from surgiplan.plan.plan_json import PlanItems
from surgiplan.plan.trajectory import Trajectory, analyse_trajectory
from surgiplan.plan.validation import PlanProblem, validate_placement
from surgiplan.twin.twin import PatientTwin


@dataclass(frozen=True)
class PlanCheck:
    """What checking plan items found.

    Attributes
    ----------
    problems : list of PlanProblem
        Everything that makes the plan impossible (empty when it can be applied).
    incisions : dict
        Traced incision paths by id (geodesic on their structure's surface).
    trajectories : dict
        Analysed entry -> target paths by instrument id.
    """

    problems: list[PlanProblem] = field(default_factory=list)
    incisions: dict[str, IncisionPath] = field(default_factory=dict)
    trajectories: dict[str, Trajectory] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class PlanRejected(InputError):
    """Plan items that cannot be applied; ``problems`` lists every reason."""

    def __init__(self, problems: list[PlanProblem]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"plan not applied: {first.item_id}: {first.message}{more}")


def _check_incisions(items: PlanItems, twin: PatientTwin, check: PlanCheck) -> None:
    for incision in items.incisions:
        if incision.structure not in twin.structures:
            known = ", ".join(twin.structures) or "none"
            check.problems.append(PlanProblem(
                incision.id, "unknown_structure",
                f"incision on {incision.structure!r}, which the twin does not have "
                f"(structures: {known})"))
            continue
        try:
            surface = twin.structure(incision.structure).surface
            check.incisions[incision.id] = trace_incision(incision, surface)
        except InputError as exc:
            check.problems.append(PlanProblem(incision.id, "incision_off_surface", str(exc)))


def _check_measurements(items: PlanItems, twin: PatientTwin, check: PlanCheck) -> None:
    for measurement in items.measurements:
        missing = [s for s in measurement.structures if s not in twin.structures]
        if missing:
            check.problems.append(PlanProblem(
                measurement.id, "unknown_structure",
                f"measurement refers to {missing[0]!r}, which the twin does not have"))


def check_plan_items(items: PlanItems, twin: PatientTwin, *, plan: Plan | None = None,
                     catalogue: Catalogue | None = None, volume=None) -> PlanCheck:
    """Validate placements, trace incisions and analyse trajectories of ``items``.

    Parameters
    ----------
    items : PlanItems
        Items to add (e.g. read from a plan JSON file).
    twin : PatientTwin
        The patient (skin surface, structures, grid).
    plan : Plan, optional
        The plan they join: ids already used there are problems.
    catalogue : Catalogue, optional
        Instrument catalogue (the shipped one by default).
    volume : Volume, optional
        Scanned box for target checks (the twin's grid by default).
    """
    catalogue = catalogue or load_catalogue()
    check = PlanCheck()
    for collection in ("incisions", "instruments", "landmarks", "measurements"):
        taken = plan.collection(collection) if plan is not None else {}
        for item in getattr(items, collection):
            if item.id in taken:
                check.problems.append(PlanProblem(
                    item.id, "duplicate_id",
                    f"the plan already has a {collection[:-1]} {item.id!r}: rename it"))
    for placement in items.instruments:
        check.problems.extend(validate_placement(placement, catalogue, twin, volume=volume))
        if placement.entry_lps_mm is not None and placement.target_lps_mm is not None:
            check.trajectories[placement.id] = analyse_trajectory(
                twin, placement.entry_lps_mm, placement.target_lps_mm)
    _check_incisions(items, twin, check)
    _check_measurements(items, twin, check)
    return check


def with_ports(items: PlanItems, catalogue: Catalogue) -> PlanItems:
    """Laparoscopic instruments placed from entry to target pivot about their entry (port)."""
    placements = []
    for placement in items.instruments:
        laparoscopic = placement.instrument in catalogue and catalogue.get(
            placement.instrument).laparoscopic
        if laparoscopic and placement.pivot_lps_mm is None and placement.entry_lps_mm:
            placement = replace(placement, pivot_lps_mm=placement.entry_lps_mm)
        placements.append(placement)
    return replace(items, instruments=tuple(placements))


def apply_plan_items(stack: UndoStack, items: PlanItems, twin: PatientTwin, *,
                     catalogue: Catalogue | None = None, volume=None,
                     text: str = "Apply plan file") -> PlanCheck:
    """Check ``items`` and, when nothing is wrong, add them all as one undo step.

    Raises
    ------
    PlanRejected
        Listing every problem; the plan is left unchanged.
    """
    catalogue = catalogue or load_catalogue()
    items = with_ports(items, catalogue)
    check = check_plan_items(items, twin, plan=stack.plan, catalogue=catalogue, volume=volume)
    if not check.ok:
        raise PlanRejected(check.problems)
    stack.push(items.to_macro(text))
    return check
