"""Events of a rehearsal run and its safety metrics (physics.md section 4).

Events are recorded when something starts: a contact with a structure, a complication found
by the rules, a peak of tissue deformation. Contacts and complications are debounced: a
contact that breaks and resumes within :data:`DEBOUNCE_S` is one episode.

Safety metrics, each passing on its own (no compensation, as the dV-Trainer's MScore):

- ``collisions``: contact episodes with rigid anatomy (bone) and instrument collisions
  (``instrument_clash`` at critical severity: the instruments touch); its value is the deepest
  contact or overlap of the two instruments (mm, :func:`depth_of`);
- ``critical_contacts``: contact episodes with critical structures (vessels, nerves);
- ``tissue_damage``: episodes of a breach (``critical_breach``: penetration of a critical
  structure or a non-target organ) or of over-strain (``tissue_overstrain``, warning level up);
  its value is the deepest breach (mm);
- ``excessive_force``: episodes of contact force or retraction pressure above the warning
  threshold (``contact_force``); its value is the largest force (N).

A metric's worst value is taken over every sample of every episode it counts (the events'
``peak``), not only where the episodes start.

A metric passes when its count is 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from surgiplan.risk import Complication, Severity

DEBOUNCE_S = 0.1
"""Contacts or findings that resume within this gap (s) continue the same episode."""
DAMAGE_RULES = ("critical_breach", "tissue_overstrain")
FORCE_RULES = ("contact_force",)
CLASH_RULES = ("instrument_clash",)


@dataclass(frozen=True)
class RunEvent:
    """Something that started during a run.

    Attributes
    ----------
    time_s : float
        When it started (s, run clock).
    kind : str
        ``"contact"``, ``"complication"`` or ``"deformation_peak"``.
    structure : str or None
        Structure concerned (twin name).
    message : str
        One readable sentence.
    value : float or None
        Value when the episode starts. Contact: depth inside the structure (mm, 0 when
        touching); deformation peak: maximum principal strain; complication: the rule's value.
    complication : Complication or None
        The rule's finding (with ``time_s`` set) for a complication event.
    peak : float or None
        Worst value over the whole episode (every sample while it lasts, same unit as
        ``value``): the deepest contact, the largest force or strain, the smallest gap for
        rules whose value is worse when lower (see :func:`worse`). ``None`` in runs recorded
        before episodes were followed (then ``value`` stands for it).
    peak_time_s : float or None
        When ``peak`` was reached (s, run clock).
    """

    time_s: float
    kind: str
    structure: str | None
    message: str
    value: float | None = None
    complication: Complication | None = None
    peak: float | None = None
    peak_time_s: float | None = None

    @property
    def worst(self) -> float | None:
        """:attr:`peak` when known, else :attr:`value`."""
        return self.peak if self.peak is not None else self.value

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object."""
        out = {k: v for k, v in asdict(self).items() if k != "complication"}
        out["complication"] = None if self.complication is None else self.complication.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunEvent:
        """The event back from :meth:`to_json`."""
        found = data.get("complication")
        complication = None if found is None else Complication(
            found["rule"], found["severity"], tuple(found["structures"]),
            found["location_lps_mm"], found["value"], found["threshold"], found["unit"],
            found["message"], found.get("item_id"), found.get("time_s"))
        peak_time = data.get("peak_time_s")
        return cls(float(data["time_s"]), str(data["kind"]), data.get("structure"),
                   str(data["message"]), data.get("value"), complication, data.get("peak"),
                   None if peak_time is None else float(peak_time))


@dataclass
class EpisodeTracker:
    """Debounced episode starts of keyed conditions over successive samples."""

    debounce_s: float = DEBOUNCE_S
    last_seen: dict[Any, float] = field(default_factory=dict)
    previous: set = field(default_factory=set)

    def starts(self, time_s: float, active: list) -> list:
        """The keys in ``active`` that start a new episode at ``time_s``.

        A key active at the previous sample continues its episode; one that was inactive
        for no more than ``debounce_s`` (from its last active sample) resumes it.
        """
        new = [key for key in active if key not in self.previous and (
            key not in self.last_seen or time_s - self.last_seen[key] > self.debounce_s)]
        for key in active:
            self.last_seen[key] = time_s
        self.previous = set(active)
        return new


@dataclass(frozen=True)
class SampleState:
    """What the simulation found at one sample.

    Attributes
    ----------
    contacts : dict of str to float
        Structures touched or entered -> depth inside (mm; 0 when touching).
    complications : list of Complication
        The rules' findings about the rehearsed instrument, ``time_s`` set.
    strain : float
        Largest maximum principal strain the instrument causes (0 when it pushes nothing).
    strain_structure : str or None
        Where that strain is.
    """

    contacts: dict[str, float]
    complications: list[Complication]
    strain: float = 0.0
    strain_structure: str | None = None


def complication_key(c: Complication) -> tuple:
    return (c.rule, c.structures)


LOWER_IS_WORSE = ("instrument_clash", "safety_margin", "ablation_margin",
                  "incision_over_vessel", "resection_remnant")
"""Rules whose value is worse when lower (a gap, a margin, a remnant)."""


def worse(rule: str | None, a: float, b: float) -> bool:
    """Whether value ``a`` is worse than ``b`` for ``rule`` (``None``: a contact depth or a
    strain, worse when higher)."""
    return a < b if rule in LOWER_IS_WORSE else a > b


def stamped(found: list[Complication], time_s: float) -> list[Complication]:
    """The complications with ``time_s`` set to the sample time."""
    return [replace(c, time_s=float(time_s)) for c in found]


@dataclass(frozen=True)
class SafetyMetric:
    """One safety metric of a run; passes on its own.

    Attributes
    ----------
    name : str
        ``collisions``, ``critical_contacts``, ``tissue_damage`` or ``excessive_force``.
    count : int
        Episodes counted.
    passed : bool
        ``count == 0``.
    worst : float or None
        Worst value seen (``unit``), ``None`` when nothing happened.
    unit : str
        Unit of ``worst``.
    detail : str
        What was counted, readable.
    """

    name: str
    count: int
    passed: bool
    worst: float | None
    unit: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The metric as a JSON object."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SafetyMetric:
        """The metric back from :meth:`to_json`."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def depth_of(event: RunEvent) -> float | None:
    """How deep an event went (its unit), the larger the worse: a contact's depth, a rule's
    value, or for a gap (rules in :data:`LOWER_IS_WORSE`, e.g. two instruments' clearance) the
    overlap ``max(0, -gap)``, so that depths and gaps are never compared as they are."""
    worst = event.worst
    if worst is None or event.complication is None:
        return worst
    return max(0.0, -worst) if event.complication.rule in LOWER_IS_WORSE else worst


def _metric(name: str, events: list[RunEvent], unit: str, detail: str) -> SafetyMetric:
    values = [depth_of(e) for e in events if e.worst is not None
              and (e.complication is None or e.complication.unit == unit)]
    worst = max(values) if values else None
    names = sorted({e.structure for e in events if e.structure})
    what = f"{detail}: {', '.join(names)}" if names else detail
    return SafetyMetric(name, len(events), not events, worst, unit, what)


def safety_metrics(events: list[RunEvent], *, critical: set[str],
                   rigid: set[str]) -> list[SafetyMetric]:
    """The four safety metrics from a run's events.

    Parameters
    ----------
    events : list of RunEvent
        Debounced episode starts.
    critical, rigid : set of str
        Critical structures (vessels, nerves) and rigid ones (bone) of the twin.
    """
    contacts = [e for e in events if e.kind == "contact"]
    rules = {e.complication.rule: [] for e in events if e.complication is not None}
    for e in events:
        if e.complication is not None:
            rules[e.complication.rule].append(e)

    def of(names: tuple[str, ...]) -> list[RunEvent]:
        return [e for name in names for e in rules.get(name, [])]

    return [
        _metric("collisions", [e for e in contacts if e.structure in rigid] + [
            e for e in of(CLASH_RULES) if e.complication.severity is Severity.CRITICAL],
                "mm", "contacts with bone and instrument clashes"),
        _metric("critical_contacts", [e for e in contacts if e.structure in critical], "mm",
                "contacts with critical structures"),
        _metric("tissue_damage", of(DAMAGE_RULES), "mm",
                "breaches and over-strain episodes"),
        _metric("excessive_force", of(FORCE_RULES), "N",
                "episodes of force or pressure above the warning threshold"),
    ]
