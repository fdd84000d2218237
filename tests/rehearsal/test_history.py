"""Attempt history in SQLite: versioned schema, per trainee and case, survives reopening."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from surgiplan.rehearsal.history import (
    SCHEMA_VERSION,
    AttemptHistory,
    HistoryError,
    case_key,
    default_history_path,
    migrate,
    schema_version,
)
from surgiplan.rehearsal.metrics import motion_metrics
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import SafetyMetric


def _run(run_id: str, trainee: str, passed: bool = True) -> RehearsalRun:
    t = np.array([0.0, 1.0, 2.0])
    tips = np.array([[0, 0, 0], [5, 0, 0], [10, 0, 0]], dtype=float)
    axes = np.tile([1.0, 0, 0], (3, 1))
    safety = [SafetyMetric("critical_contacts", 0 if passed else 1, passed, None, "mm", "x")]
    return RehearsalRun(run_id, "needle-1", "biopsy_needle_18g", trainee, "2024-01-01T00:00:00",
                        t, tips, axes, (0.0, 0, 0), (10.0, 0, 0),
                        motion_metrics(t, tips, axes, planned_target_lps_mm=[10.0, 0, 0]),
                        safety=safety, composite_score=80.0)


def test_history_survives_closing_and_reopening(tmp_path) -> None:
    path = tmp_path / "sub" / "history.sqlite"
    with AttemptHistory(path) as history:
        assert history.add(_run("a", "ana"), "case-1").number == 1
        assert history.add(_run("b", "ana", passed=False), "case-1").number == 2
        history.add(_run("c", "ben"), "case-1")
        history.add(_run("d", "ana"), "case-2")
    with AttemptHistory(path) as history:
        attempts = history.attempts("ana", "case-1")
        assert [(a.number, a.run_id, a.passed) for a in attempts] == [
            (1, "a", True), (2, "b", False)]
        assert attempts[0].path_length_mm == pytest.approx(10.0)
        assert attempts[0].metrics["tip_error_mm"] == pytest.approx(0.0)
        assert attempts[1].safety[0]["passed"] is False
        assert history.trainees() == ["ana", "ben"]


def test_schema_is_versioned_and_migrated_once(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    assert migrate(db) == 0
    assert schema_version(db) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION  # nothing left to do
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="update SurgiPlan"):
        AttemptHistory(path)


def test_not_a_database_names_the_way_out(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_text("not sqlite " * 200)
    with pytest.raises(HistoryError, match="move the file away"):
        AttemptHistory(path)


def test_default_path_is_in_the_user_data_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_history_path() == tmp_path / "surgiplan" / "history.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_history_path().parts[-4:] == (".local", "share", "surgiplan",
                                                  "history.sqlite")


def _v1_database(path) -> None:
    """A history written by schema 1 (no run JSON), with one attempt."""
    from surgiplan.rehearsal.history import MIGRATIONS

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    MIGRATIONS[1](db)
    db.execute("INSERT INTO schema_version (version) VALUES (1)")
    run = _run("old", "ana")
    db.execute("INSERT INTO attempts (run_id, trainee, case_key, instrument, started, passed,"
               " composite_score, time_s, path_length_mm, tip_error_mm, metrics_json,"
               " safety_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               ("old", "ana", "case-1", "needle-1", run.started, 1, 55.0, 2.0, 10.0, 0.0,
                json.dumps(run.metrics.to_json()), json.dumps([m.to_json() for m in run.safety])))
    db.commit()
    db.close()


def test_attempts_give_back_their_runs_in_order(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    with AttemptHistory(path) as history:
        history.add(_run("a", "ana"), "case-1")
        history.add(_run("b", "ana", passed=False), "case-1")
        history.add(_run("c", "ben"), "case-1")
    with AttemptHistory(path) as history:
        runs = history.runs("ana", "case-1")
    assert [r.id for r in runs] == ["a", "b"]
    assert [r.passed for r in runs] == [True, False]
    original = _run("a", "ana")
    assert np.array_equal(runs[0].tips_lps_mm, original.tips_lps_mm)
    assert np.array_equal(runs[0].times_s, original.times_s)
    assert runs[0].metrics == original.metrics


def test_a_schema_1_history_is_migrated_and_keeps_its_attempts(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    _v1_database(path)
    with AttemptHistory(path) as history:
        history.add(_run("new", "ana"), "case-1")
        old, new = history.attempts("ana", "case-1")
    assert (old.number, old.run_id, old.run_json) == (1, "old", None)
    summary = old.run()  # no samples stored: a summary run with the metrics
    assert summary.composite_score == 55.0 and summary.passed
    assert summary.metrics.path_length_mm == pytest.approx(10.0)
    assert summary.tips_lps_mm.shape == (0, 3)
    assert new.number == 2 and new.run().tips_lps_mm.shape == (3, 3)
    db = sqlite3.connect(path)
    assert schema_version(db) == SCHEMA_VERSION == 2
    db.close()


def test_case_key_is_the_content_hash_else_the_file_name(tmp_path) -> None:
    from types import SimpleNamespace

    from surgiplan.cli_rehearse import case_key as cli_key

    hashed = SimpleNamespace(provenance=SimpleNamespace(source={"content_sha256": "ab12"}))
    plain = SimpleNamespace(provenance=SimpleNamespace(source={}))
    assert case_key(hashed, tmp_path / "x.surgiplan") == "ab12"
    assert case_key(plain, tmp_path / "x.surgiplan") == "x.surgiplan"
    assert case_key(plain, None) == "untitled.surgiplan"
    assert cli_key(plain, tmp_path / "y.surgiplan") == "y.surgiplan"
