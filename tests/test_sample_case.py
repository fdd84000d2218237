"""The sample case file the app opens: built once per version, the same plan as the demo."""

from __future__ import annotations

from surgiplan.case.case_file import load_case
from surgiplan.sample_case import sample_case_file


def test_sample_case_is_built_once_with_the_teaching_plan(tmp_path):
    path = sample_case_file(cache_dir=tmp_path)
    assert path.parent == tmp_path and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert sample_case_file(cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == stamp  # not rebuilt
    case = load_case(path)
    assert set(case.plan.instruments) == {"needle-1", "needle-2"}
    assert len(case.plan.incisions) == 1
    assert {"skin", "liver", "tumour", "portal_vein"} <= set(case.twin.structures)
    assert [step.name for step in case.provenance.steps][:2] == ["import", "segmentation"]
