"""Rules on tissue: incisions near vessels, over-strain, ablation margin, liver remnant."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from surgiplan.errors import InputError
from surgiplan.risk.context import LIVER_CONDITIONS
from surgiplan.risk.ellipsoid import signed_distance_inside
from surgiplan.risk.model import Complication, Severity
from surgiplan.risk.registry import Rule, register
from surgiplan.risk.wording import consequence, deformed_note, number, structure_name

if TYPE_CHECKING:
    from surgiplan.risk.context import InstrumentFindings, ResectionFindings, RiskContext


@register
class IncisionOverVessel(Rule):
    """An incision's cut (path swept down to its depth) comes near or into a vessel."""

    id = "incision_over_vessel"
    title = "Incision over a vessel"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        found = []
        for findings in context.incisions.values():
            depth = number(findings.path.depth_mm)
            for name, vessel in findings.vessel_distances.items():
                tissue = context.tissue(name) or "vessel"
                warn = limits.value("warning_mm", structure=name, tissue=tissue)
                crit = limits.value("critical_mm", structure=name, tissue=tissue)
                distance = float(vessel.distance_mm)
                if distance <= crit:
                    severity, threshold = Severity.CRITICAL, crit
                    message = (f"The {depth} mm deep incision reaches {structure_name(name)}: "
                               f"risk of {consequence(tissue)}")
                elif distance < warn:
                    severity, threshold = Severity.WARNING, warn
                    message = (f"The {depth} mm deep incision comes within {number(distance)} "
                               f"mm of {structure_name(name)} (minimum {number(warn)} mm): "
                               f"risk of {consequence(tissue)}")
                else:
                    continue
                found.append(self.complication(
                    context, severity, value=distance, threshold=threshold, unit="mm",
                    message=message, structures=(name,), location_lps_mm=vessel.point_lps_mm,
                    item_id=findings.item_id))
        return found


@register
class TissueOverstrain(Rule):
    """A structure is stretched towards tearing (maximum principal strain, per tissue)."""

    id = "tissue_overstrain"
    title = "Tissue over-strain (tearing risk)"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        found = []
        for strain in context.strains:
            keys = {"structure": strain.structure, "tissue": strain.tissue}
            warn = limits.value("warning_strain", **keys)
            crit = limits.value("critical_strain", **keys)
            value = float(strain.max_principal_strain)
            if value > crit:
                severity, threshold, limit = Severity.CRITICAL, crit, "limit"
            elif value > warn:
                severity, threshold, limit = Severity.WARNING, warn, "warning above"
            else:
                continue
            label = structure_name(strain.structure).capitalize()
            if strain.tissue != strain.structure:
                label += f" ({strain.tissue})"
            message = (f"{label} is stretched to {number(value * 100)} % strain ({limit} "
                       f"{number(threshold * 100)} %): risk of tearing")
            found.append(self.complication(
                context, severity, value=value, threshold=threshold, unit="strain",
                message=message, structures=(strain.structure,),
                location_lps_mm=strain.location_lps_mm))
        return found


@register
class AblationMargin(Rule):
    """The ablation zone must cover the tumour with a margin of more than 5 mm.

    The margin is the smallest distance from a tumour surface vertex (the twin structure named
    by ``target_structure``) to the zone boundary, negative where the tumour sticks out. It is
    exact for the vertices; a coarse tumour mesh may hide a face bulging further out. A tumour
    a retractor's push moved (:attr:`TipToTarget.surface_lps_mm`) is measured where it moved
    to, and the message says so.
    """

    id = "ablation_margin"
    title = "Ablation margin around the tumour"
    severities = (Severity.INFO, Severity.CRITICAL)

    def _margin(self, context: RiskContext,
                findings: InstrumentFindings) -> tuple[float, np.ndarray] | None:
        zone, tumour = findings.ablation_zone, findings.target_structure
        if zone is None or tumour is None or context.twin is None or (
                tumour not in context.twin.structures):
            return None
        vertices = _target_vertices(context, findings, tumour)
        if len(vertices) == 0:
            return None
        margins = signed_distance_inside(vertices, zone.centre_lps_mm, zone.radii_mm, zone.axes)
        worst = int(np.argmin(margins))
        return float(margins[worst]), np.asarray(vertices[worst], dtype=float)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        found = []
        for findings in context.instruments.values():
            result = self._margin(context, findings)
            if result is None:
                continue
            margin, point = result
            tumour = findings.target_structure
            crit, info = limits.value("critical_mm", structure=tumour), limits.value(
                "info_mm", structure=tumour)
            if margin <= crit:
                severity, threshold = Severity.CRITICAL, crit
                message = self._critical_message(margin, crit, tumour)
            elif margin < info:
                severity, threshold = Severity.INFO, info
                message = (f"Ablation margin around {structure_name(tumour)} is "
                           f"{number(margin)} mm: adequate (more than {number(crit)} mm); "
                           f"no local progression was seen with margins above {number(info)} mm")
            else:
                continue
            found.append(self.complication(
                context, severity, value=margin, threshold=threshold, unit="mm",
                message=message + deformed_note(context, context.deformed_by(
                    findings.item_id, tumour)),
                structures=(tumour,), location_lps_mm=point, item_id=findings.item_id))
        return found

    @staticmethod
    def _critical_message(margin: float, crit: float, tumour: str) -> str:
        risk = (f"margins of {number(crit)} mm or less were the strongest predictor of local "
                "tumour progression")
        if margin < 0:
            return (f"{structure_name(tumour).capitalize()} extends {number(-margin)} mm beyond "
                    f"the ablation zone (margin must exceed {number(crit)} mm): {risk}")
        return (f"Ablation margin around {structure_name(tumour)} is {number(margin)} mm (must "
                f"exceed {number(crit)} mm): {risk}")


def _target_vertices(context: RiskContext, findings: InstrumentFindings,
                     tumour: str) -> np.ndarray:
    """Render-surface vertices ``(n, 3)`` LPS mm of the target: where a push moved it, else at
    rest."""
    target = findings.tip_to_target_structure()
    if target is not None and target.structure == tumour and target.surface_lps_mm is not None:
        return np.asarray(target.surface_lps_mm, dtype=float)
    return context.twin.structures[tumour].surface.vertices_lps_mm


CONDITION_WORDS = {"normal": "a normal liver",
                   "chemotherapy": "a liver after extensive chemotherapy",
                   "cirrhosis": "a cirrhotic liver"}


@register
class ResectionRemnant(Rule):
    """The future liver remnant must stay above 20 / 30 / 40 % of the liver by condition."""

    id = "resection_remnant"
    title = "Future liver remnant too small"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def _percent(self, context: RiskContext, resection: ResectionFindings,
                 liver: str) -> float | None:
        total = resection.total_liver_ml
        if total is None and context.twin is not None and liver in context.twin.structures:
            total = context.twin.structures[liver].properties.volume_ml
        if total is None or not total > 0:
            return None
        if resection.liver_condition not in LIVER_CONDITIONS:
            raise InputError(f"liver condition {resection.liver_condition!r} is not one of "
                             f"{', '.join(LIVER_CONDITIONS)}")
        if not 0 <= resection.remnant_ml <= total * (1 + 1e-6):
            raise InputError(f"the remnant ({number(resection.remnant_ml)} mL) must be between 0 "
                             f"and the total liver volume ({number(total)} mL)")
        return 100.0 * float(resection.remnant_ml) / float(total)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        resection = context.resection
        if resection is None:
            return []
        limits = self.thresholds(context)
        liver = str(limits.setting("liver_structure"))
        percent = self._percent(context, resection, liver)
        if percent is None:
            return []
        condition = resection.liver_condition
        minimum = limits.value("critical_below_percent", condition=condition)
        band = limits.value("warning_band_percent", condition=condition)
        words = f"{number(minimum)} % minimum for {CONDITION_WORDS[condition]}"
        if percent < minimum:
            severity, threshold = Severity.CRITICAL, minimum
            message = (f"Future liver remnant is {number(percent)} % of the liver (below the "
                       f"{words}): risk of liver failure after resection; consider portal "
                       "vein embolisation")
        elif percent < minimum + band:
            severity, threshold = Severity.WARNING, minimum + band
            message = (f"Future liver remnant is {number(percent)} % of the liver, within "
                       f"{number(band)} points of the {words}: risk of liver failure after "
                       "resection")
        else:
            return []
        return [self.complication(context, severity, value=percent, threshold=threshold,
                                  unit="%", message=message, structures=(liver,))]
