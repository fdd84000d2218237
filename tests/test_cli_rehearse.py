"""``surgiplan rehearse``: exit 0 when every safety metric passes, 1 when one fails, 2 on bad
input; the run is saved into the case and into the history."""

from __future__ import annotations

import json
import shutil

import pytest

from surgiplan.case.case_file import load_case
from surgiplan.cli import main
from surgiplan.rehearsal import AttemptHistory, case_runs
from surgiplan.sample_case import sample_case_file
from tests.rehearsal.scripts import following_plan, into_portal_vein


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rehearse")
    path = folder / "case.surgiplan"
    shutil.copy(sample_case_file(), path)
    case = load_case(path)
    good, bad = folder / "good.json", folder / "bad.json"
    good.write_text(json.dumps(following_plan(case).to_json()))
    bad.write_text(json.dumps(into_portal_vein(case).to_json()))
    return path, good, bad, folder / "history.sqlite"


def test_rehearse_passing_and_failing_runs(sample, capsys) -> None:
    case, good, bad, history = sample
    assert main(["rehearse", str(case), "--script", str(good), "--trainee", "ana",
                 "--history", str(history)]) == 0
    out = capsys.readouterr().out
    assert "PASS critical_contacts" in out and "result: PASS" in out
    assert "attempt 1" in out and "for information only" in out
    assert main(["rehearse", str(case), "--script", str(bad), "--trainee", "ana",
                 "--history", str(history), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False and data["attempt"] == 2
    failed = {m["name"] for m in data["safety"] if not m["passed"]}
    assert {"critical_contacts", "tissue_damage"} <= failed
    assert [r.passed for r in case_runs(load_case(case))] == [True, False]
    with AttemptHistory(history) as db:
        assert [a.passed for a in db.attempts("ana", db_key(case))] == [True, False]


def db_key(case_path) -> str:
    from surgiplan.cli_rehearse import case_key

    case = load_case(case_path)
    return case_key(case, case_path)


@pytest.mark.parametrize("script, words", [
    ('{"instrument": "needle-9", "samples": [{"t": 0, "tip_lps_mm": [0, 0, 0], '
     '"axis": [0, 0, 1]}]}', "no instrument 'needle-9'"),
    ('{"instrument": "needle-1", "samples": []}', "non-empty list"),
    ('{"instrument": "needle-1", "samples": [{"t": 0, "tip_lps_mm": [0, 0]}]}', "lacks axis"),
    ("not json", "not valid JSON"),
])
def test_bad_scripts_exit_2_with_one_line(sample, tmp_path, capsys, script, words) -> None:
    case, _, _, history = sample
    path = tmp_path / "moves.json"
    path.write_text(script)
    assert main(["rehearse", str(case), "--script", str(path), "--history",
                 str(history)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_missing_script_and_case_exit_2(sample, tmp_path, capsys) -> None:
    case, good, _, _ = sample
    assert main(["rehearse", str(case), "--script", str(tmp_path / "none.json")]) == 2
    assert "no such script file" in capsys.readouterr().err
    assert main(["rehearse", str(tmp_path / "none.surgiplan"), "--script", str(good)]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["rehearse", str(case)])
    assert exit_info.value.code == 2
