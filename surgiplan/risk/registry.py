"""The rule registry: every complication rule, by id, and :func:`evaluate_all`.

A rule is a small class with an ``id``, a ``title``, the ``severities`` it can report and an
``evaluate(context)`` that reads a :class:`~surgiplan.risk.context.RiskContext` and returns
:class:`~surgiplan.risk.model.Complication` s. Its thresholds and their citations live in
``data/risk_thresholds.json`` under the same id (:mod:`surgiplan.risk.thresholds`), so a plan can
override them without code. Rules are pure: they never call the collision or FEM code.

Register a rule with :func:`register`::

    @register
    class MyRule(Rule):
        id = "my_rule"
        title = "Something a surgeon cares about"
        severities = (Severity.WARNING,)

        def evaluate(self, context):
            limit = self.thresholds(context).value("limit_mm")
            ...
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, TypeVar

from surgiplan.errors import InputError
from surgiplan.risk.model import Complication, Severity
from surgiplan.risk.thresholds import Citation, RuleThresholds, Thresholds, load_thresholds
from surgiplan.risk.wording import deformed_note

if TYPE_CHECKING:
    from surgiplan.risk.context import RiskContext

__all__ = ["RULES", "Rule", "evaluate_all", "get_rule", "load_thresholds", "register", "rules",
           "Thresholds"]

BUILTIN_MODULES = ("surgiplan.risk.rules_instruments", "surgiplan.risk.rules_tissue",
                   "surgiplan.risk.rules_ports")
"""Modules whose import registers the shipped rules."""
DEFORMABLE_MEASURES = ("critical_breach", "safety_margin", "incision_over_vessel")
"""Rules whose value is an instrument's clearance to, or depth in, a structure, or an
incision's distance to one. When the simulation measured it on anatomy deformed by a retractor
or grasper (``deformed_by`` of the :class:`~surgiplan.risk.context.Clearance`, ``Entry`` or
``VesselDistance``), :func:`evaluate_all` says so in the message."""
PUSH_WORDS = {"retractor": "retraction", "grasper": "grasping"}
"""What a pushing instrument's category does to tissue, for messages."""


class Rule:
    """Base of every complication rule (subclass it and :func:`register` the subclass).

    Attributes
    ----------
    id : str
        Unique id, also the key of its thresholds in ``data/risk_thresholds.json``.
    title : str
        What it checks, in a surgeon's words.
    severities : tuple of Severity
        The severities it can report.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severities: ClassVar[tuple[Severity, ...]] = ()

    def evaluate(self, context: RiskContext) -> list[Complication]:
        """The complications found in ``context`` (empty when its data is missing)."""
        raise NotImplementedError

    def thresholds(self, context: RiskContext) -> RuleThresholds:
        """This rule's thresholds in ``context`` (table merged with plan overrides)."""
        return context.thresholds.rule(self.id)

    @property
    def defaults(self) -> RuleThresholds:
        """This rule's thresholds in the shipped table."""
        return load_thresholds().rule(self.id)

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Sources of the default thresholds."""
        return self.defaults.citations

    def complication(self, context: RiskContext, severity: Severity, *, value: float,
                     threshold: float, unit: str, message: str,
                     structures: Iterable[str] = (), location_lps_mm=None,
                     item_id: str | None = None) -> Complication:
        """A :class:`Complication` of this rule, stamped with the context's rehearsal time."""
        location = None if location_lps_mm is None else tuple(
            float(v) for v in location_lps_mm)
        return Complication(self.id, severity, tuple(structures), location, value, threshold,
                            unit, message, item_id, context.time_s)

    def __repr__(self) -> str:
        return f"<Rule {self.id}: {self.title}>"


RULES: dict[str, Rule] = {}
"""Registered rules by id (the shipped ones appear once :func:`rules` has run)."""

R = TypeVar("R", bound=type[Rule])


def register(cls: R) -> R:
    """Class decorator: add one instance of the rule ``cls`` to :data:`RULES`.

    Raises
    ------
    InputError
        When the rule has no id, or another rule already has it.
    """
    if not cls.id:
        raise InputError(f"rule {cls.__name__} needs an id")
    existing = RULES.get(cls.id)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise InputError(f"two rules share the id {cls.id!r}: {type(existing).__name__} and "
                         f"{cls.__name__}")
    RULES[cls.id] = cls()
    return cls


def rules() -> dict[str, Rule]:
    """Every registered rule by id, the shipped ones included."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return RULES


def get_rule(rule_id: str) -> Rule:
    """The rule ``rule_id``; :class:`InputError` listing the known ids if absent."""
    known = rules()
    if rule_id not in known:
        raise InputError(f"no rule {rule_id!r}: use one of {', '.join(sorted(known))}")
    return known[rule_id]


def sort_complications(found: Iterable[Complication]) -> list[Complication]:
    """Critical first, then by rule id; each rule's own order is kept."""
    return sorted(found, key=lambda c: (-int(c.severity), c.rule))


def deformation_note(context: RiskContext, found: Complication) -> str:
    """``", measured on the deformed anatomy after retraction by retractor-1"`` when ``found``
    reads a value measured on anatomy moved by pushing instruments, else ``""``."""
    if found.rule not in DEFORMABLE_MEASURES or not found.structures:
        return ""
    return deformed_note(context, context.deformed_by(found.item_id, found.structures[0]))


def _noted(context: RiskContext, found: list[Complication]) -> list[Complication]:
    """``found`` with the deformation note (:func:`deformation_note`) added to messages."""
    out = []
    for complication in found:
        note = deformation_note(context, complication)
        out.append(replace(complication, message=complication.message + note) if note
                   else complication)
    return out


def evaluate_all(context: RiskContext, *,
                 rule_ids: Iterable[str] | None = None) -> list[Complication]:
    """Run the rules over ``context``.

    Parameters
    ----------
    context : RiskContext
        What the simulation found; missing data makes a rule report nothing.
    rule_ids : iterable of str, optional
        Only these rules; every registered rule when omitted. Rules switched off in the
        context's thresholds (``"enabled": false``) are skipped either way.

    Returns
    -------
    list of Complication
        Sorted by severity (critical first), then rule id. Messages of clearances and entries
        measured on deformed anatomy end with where the deformation came from
        (:func:`deformation_note`).

    Raises
    ------
    InputError
        An unknown rule id (the message lists the known ones).
    """
    known = rules()
    selected = list(known) if rule_ids is None else list(rule_ids)
    unknown = [rule_id for rule_id in selected if rule_id not in known]
    if unknown:
        raise InputError(f"unknown rule(s) {', '.join(unknown)}: use "
                         f"{', '.join(sorted(known))}")
    found: list[Complication] = []
    for rule_id in selected:
        rule = known[rule_id]
        if rule.thresholds(context).enabled:
            found.extend(rule.evaluate(context))
    return sort_complications(_noted(context, found))
