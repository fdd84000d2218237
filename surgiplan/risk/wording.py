"""Words for complication messages: numbers, structure and instrument names, consequences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from surgiplan.plan.catalogue import Instrument
    from surgiplan.risk.context import RiskContext

CONSEQUENCES = {
    "vessel": "haemorrhage",
    "nerve": "nerve injury",
    "bowel": "perforation",
    "stomach": "perforation",
    "bladder": "perforation",
    "gallbladder": "bile leak",
    "lung": "pneumothorax",
    "brain": "neurological injury",
    "heart": "cardiac injury",
    "bone": "a blocked path",
}
"""What going wrong near a structure of this tissue leads to; other tissues: organ injury."""


def number(value: float) -> str:
    """``value`` with at most 2 decimals and no trailing zeros: 1.8, 3, 0.25, -2.1."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def structure_name(name: str) -> str:
    """``"portal_vein"`` -> ``"the portal vein"``."""
    return "the " + name.replace("_", " ").strip()


def instrument_noun(instrument: Instrument | None) -> str:
    """Capitalised category of the instrument (``"Needle"``), ``"Instrument"`` if unknown."""
    if instrument is None:
        return "Instrument"
    return instrument.category.capitalize()


def consequence(tissue: str | None) -> str:
    """The risk of harming a structure of ``tissue`` (``"haemorrhage"``)."""
    if tissue is None:
        return "injury"
    return CONSEQUENCES.get(tissue, "organ injury")


def duration(seconds: float) -> str:
    """``930`` -> ``"15.5 min"``; under a minute: ``"42 s"``."""
    if seconds < 60.0:
        return f"{number(seconds)} s"
    return f"{number(seconds / 60.0)} min"


def deformed_note(context: RiskContext, pushers: Iterable[str]) -> str:
    """``", measured on the deformed anatomy after retraction by retractor-1"`` for the
    placement ids of the instruments whose push moved the measured structure; ``""`` for none.

    :func:`surgiplan.risk.registry.deformation_note` adds it to the messages of the rules in
    its ``DEFORMABLE_MEASURES``; rules outside them that read a deformed target (reach,
    ablation margin) add it themselves.
    """
    from surgiplan.risk.registry import PUSH_WORDS

    words = []
    for item_id in pushers:
        findings = context.instruments.get(item_id)
        category = findings.instrument.category if findings is not None else ""
        words.append(f"{PUSH_WORDS.get(category, 'pushing')} by {item_id}")
    return f", measured on the deformed anatomy after {' and '.join(words)}" if words else ""
