"""Work a plan check can reuse between checks of the same twin (the app's live check).

Moving one instrument changes one placement: its collision query, path and (for blunt
instruments) FEM solve are redone; every other placement, every incision and the collision
world (BVHs) are taken from here. Keys are the immutable plan items themselves, so an item
changed in any way is a new key. Cached findings are kept pristine: checks work on copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from surgiplan.plan.model import Incision, InstrumentPlacement
from surgiplan.risk.context import IncisionFindings, InstrumentFindings
from surgiplan.simulation.collision import CollisionWorld
from surgiplan.simulation.contact_deformation import ContactDeformation
from surgiplan.twin.twin import PatientTwin

MAX_ENTRIES = 64
"""Per kind; the oldest entries are dropped first (a drag makes many poses)."""


def twin_signature(twin: PatientTwin) -> tuple:
    """What the cached work depends on: each structure's model and table entry."""
    return tuple((name, id(model), model.info) for name, model in twin.structures.items())


@dataclass
class SimulationCache:
    """Reusable results for one twin; cleared by itself when the twin changes.

    Attributes
    ----------
    world : CollisionWorld or None
        Collision world of the twin (BVHs built once).
    instruments : dict
        Placement -> its findings on the rest anatomy (``None`` for an unknown instrument).
    deformations : dict
        Placement -> the structures it indents, solved.
    incisions : dict
        Incision -> its findings.
    """

    world: CollisionWorld | None = None
    instruments: dict[InstrumentPlacement, InstrumentFindings | None] = field(
        default_factory=dict)
    deformations: dict[InstrumentPlacement, list[ContactDeformation]] = field(
        default_factory=dict)
    incisions: dict[Incision, IncisionFindings | None] = field(default_factory=dict)
    signature: tuple = ()

    def world_for(self, twin: PatientTwin) -> CollisionWorld:
        """The twin's collision world, rebuilt (and every entry dropped) if the twin changed."""
        signature = twin_signature(twin)
        if self.world is None or signature != self.signature:
            self.clear()
            self.world = CollisionWorld(twin)
            self.signature = signature
        return self.world

    def clear(self) -> None:
        self.world = None
        self.instruments.clear()
        self.deformations.clear()
        self.incisions.clear()

    def remember(self, table: dict, key, value) -> None:
        table[key] = value
        while len(table) > MAX_ENTRIES:
            table.pop(next(iter(table)))


def working_copy(findings: InstrumentFindings | None) -> InstrumentFindings | None:
    """A copy a check may change (its clearance and entry tables are its own)."""
    if findings is None:
        return None
    return replace(findings, clearances=dict(findings.clearances),
                   entered=dict(findings.entered))
