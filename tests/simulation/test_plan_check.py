"""The plan check on a synthetic abdomen: needle findings and a retractor indenting an organ."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.model import Case
from surgiplan.imaging import Volume
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.placement import pose_along
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.simulation.plan_check import check_case
from surgiplan.twin.builder import build_twin

SPACING_MM = 2.0
LIVER_CENTRE, LIVER_RADIUS = np.array([0.0, 0.0, 0.0]), 30.0


@pytest.fixture(scope="module")
def abdomen_twin():
    n = 56
    affine = np.diag([SPACING_MM] * 3 + [1.0])
    affine[:3, 3] = -SPACING_MM * (n - 1) / 2
    labels = LabelMap.empty_like((n, n, n), affine)
    k, j, i = np.indices((n, n, n))
    points = np.stack([i, j, k], -1) * SPACING_MM + affine[:3, 3]
    distance = np.linalg.norm(points - LIVER_CENTRE, axis=-1)
    labels.add(Region.from_full_mask(distance <= 52.0), StructureInfo(0, "skin", tissue="skin"))
    labels.add(Region.from_full_mask(distance <= LIVER_RADIUS),
               StructureInfo(0, "liver", tissue="liver"))
    return build_twin(labels), affine, n


def _retractor_case(abdomen_twin, depth_mm: float) -> Case:
    twin, affine, n = abdomen_twin
    axis = np.array([0.0, 1.0, 0.0])  # from anterior to posterior, onto the liver at y = -30
    tip = LIVER_CENTRE - (LIVER_RADIUS - depth_mm) * axis
    pose = pose_along(axis, tip)
    plan = Plan()
    plan.instruments["retractor-1"] = InstrumentPlacement("retractor-1", "retractor",
                                                          tuple(map(tuple, pose)))
    volume = Volume(np.zeros((n, n, n), np.int16), affine, "CT")
    return Case(volume=volume, twin=twin, plan=plan)


def test_retractor_indents_the_liver_with_force_and_strain_not_a_breach(abdomen_twin):
    shallow = check_case(_retractor_case(abdomen_twin, 4.0), catalogue=load_catalogue())
    deep = check_case(_retractor_case(abdomen_twin, 8.0), catalogue=load_catalogue())
    for result in (shallow, deep):
        findings = result.context.instruments["retractor-1"]
        assert findings.contact_structure == "liver"
        assert findings.contact_force_n > 0
        assert "liver" not in findings.entered  # pushed, not cut
        [strain] = [s for s in result.context.strains if s.structure == "liver"]
        assert strain.max_principal_strain > 0
        assert not [c for c in result.complications if c.rule == "critical_breach"]
    force = [r.context.instruments["retractor-1"].contact_force_n for r in (shallow, deep)]
    assert force[1] > force[0]  # pushing deeper needs more force
