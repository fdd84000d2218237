"""Attempt history per trainee and case, in an embedded SQLite database.

The schema is versioned: table ``schema_version`` holds one row, and :func:`migrate` brings
an older database up to :data:`SCHEMA_VERSION` step by step (each step in one transaction).
Version 1 kept each attempt's metrics; version 2 adds the whole run (samples and events, the
run JSON of :mod:`surgiplan.rehearsal.codec`), so an attempt can be replayed and charted.
The default file is ``$XDG_DATA_HOME/surgiplan/history.sqlite`` (``~/.local/share`` when
unset); tests pass their own path. Attempts are keyed by trainee and :func:`case_key`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surgiplan.errors import InputError
from surgiplan.rehearsal.codec import RunFormatError, run_from_json, run_to_json
from surgiplan.rehearsal.metrics import MotionMetrics
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import SafetyMetric

SCHEMA_VERSION = 2


class HistoryError(InputError):
    """The history database cannot be opened or is newer than this SurgiPlan."""


def default_history_path() -> Path:
    """``$XDG_DATA_HOME/surgiplan/history.sqlite`` (``~/.local/share`` when unset)."""
    root = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(root) / "surgiplan" / "history.sqlite"


def case_key(case, path: str | os.PathLike[str] | None) -> str:
    """The history key of a case: its voxel content hash, else its file name.

    Parameters
    ----------
    case : Case
        The case (its provenance holds ``content_sha256`` when made from a scan).
    path : path-like or None
        Its file; ``None`` for a case never saved (keyed ``"untitled.surgiplan"`` without a hash).
    """
    found = case.provenance.source.get("content_sha256")
    if found:
        return str(found)
    return Path(path).name if path is not None else "untitled.surgiplan"


def _to_v1(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        trainee TEXT NOT NULL,
        case_key TEXT NOT NULL,
        instrument TEXT NOT NULL,
        started TEXT NOT NULL,
        passed INTEGER NOT NULL,
        composite_score REAL NOT NULL,
        time_s REAL NOT NULL,
        path_length_mm REAL NOT NULL,
        tip_error_mm REAL,
        metrics_json TEXT NOT NULL,
        safety_json TEXT NOT NULL)""")
    db.execute("CREATE INDEX attempts_by_trainee_case ON attempts (trainee, case_key, id)")


def _to_v2(db: sqlite3.Connection) -> None:
    """The whole run (JSON) beside its summary; attempts stored before stay NULL there."""
    db.execute("ALTER TABLE attempts ADD COLUMN run_json TEXT")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _to_v1, 2: _to_v2}
"""Step to version ``n`` from ``n - 1``."""


def schema_version(db: sqlite3.Connection) -> int:
    """The database's schema version (0 for a new, empty database)."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(db: sqlite3.Connection) -> int:
    """Bring ``db`` up to :data:`SCHEMA_VERSION`; return the version it had.

    Raises
    ------
    HistoryError
        When the database is newer than this SurgiPlan knows.
    """
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise HistoryError(f"the history database has schema {found}, newer than this "
                           f"SurgiPlan reads ({SCHEMA_VERSION}): update SurgiPlan")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        with db:
            MIGRATIONS[version](db)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    return found


@dataclass(frozen=True)
class Attempt:
    """One stored attempt (a row of the history).

    Attributes
    ----------
    number : int
        Attempt number of this trainee on this case (1-based, in recording order).
    run_id, trainee, case_key, instrument, started : str
        Identity of the run; ``case_key`` names the case (its content hash or file name).
    passed : bool
        Every safety metric passed.
    composite_score : float
        For information only (0-100).
    time_s, path_length_mm : float
        Time (s) and tip path length (mm).
    tip_error_mm : float or None
        Final tip error (mm).
    metrics, safety : dict, list
        The run's full metrics and safety metrics (JSON form).
    run_json : dict or None
        The whole run (:func:`~surgiplan.rehearsal.codec.run_to_json`); ``None`` for an
        attempt stored by schema 1.
    """

    number: int
    run_id: str
    trainee: str
    case_key: str
    instrument: str
    started: str
    passed: bool
    composite_score: float
    time_s: float
    path_length_mm: float
    tip_error_mm: float | None
    metrics: dict
    safety: list
    run_json: dict | None = None

    def run(self) -> RehearsalRun:
        """The attempt's run: the stored one, or for an attempt stored without it (schema 1)
        a summary run with its metrics, safety metrics and score but no samples or events.

        Raises
        ------
        HistoryError
            When the stored run cannot be read.
        """
        try:
            if self.run_json is not None:
                return run_from_json(self.run_json)
            return RehearsalRun(
                id=self.run_id, instrument=self.instrument, instrument_type="",
                trainee=self.trainee, started=self.started, times_s=np.zeros(0),
                tips_lps_mm=np.zeros((0, 3)), axes=np.zeros((0, 3)),
                planned_entry_lps_mm=None, planned_target_lps_mm=None,
                metrics=MotionMetrics.from_json(self.metrics),
                safety=[SafetyMetric.from_json(m) for m in self.safety],
                composite_score=self.composite_score)
        except (RunFormatError, KeyError, TypeError) as exc:
            raise HistoryError(f"attempt {self.number} of the history cannot be read ({exc}): "
                               "record it again") from None


class AttemptHistory:
    """The attempt database; use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : path-like, optional
        Database file (created with its folder); :func:`default_history_path` by default.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            migrate(self._db)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"cannot open the attempt history {self.path} ({exc}): move "
                               "the file away to start a new history") from None
        except OSError as exc:
            raise HistoryError(f"cannot create the attempt history {self.path} "
                               f"({exc.strerror}): check the folder's permissions") from None

    def add(self, run: RehearsalRun, case_key: str) -> Attempt:
        """Store a run as the next attempt of its trainee on ``case_key``."""
        data = run_to_json(run)
        with self._db:
            self._db.execute(
                "INSERT INTO attempts (run_id, trainee, case_key, instrument, started, passed,"
                " composite_score, time_s, path_length_mm, tip_error_mm, metrics_json,"
                " safety_json, run_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.id, run.trainee, case_key, run.instrument, run.started, int(run.passed),
                 run.composite_score, run.metrics.time_s, run.metrics.path_length_mm,
                 run.metrics.tip_error_mm, json.dumps(data["metrics"]),
                 json.dumps(data["safety"]), json.dumps(data)))
        return self.attempts(run.trainee, case_key)[-1]

    def attempts(self, trainee: str, case_key: str) -> list[Attempt]:
        """Every attempt of ``trainee`` on ``case_key``, oldest first."""
        rows = self._db.execute(
            "SELECT run_id, trainee, case_key, instrument, started, passed, composite_score,"
            " time_s, path_length_mm, tip_error_mm, metrics_json, safety_json, run_json"
            " FROM attempts WHERE trainee = ? AND case_key = ? ORDER BY id",
            (trainee, case_key)).fetchall()
        return [Attempt(n, *row[:5], bool(row[5]), *row[6:10], json.loads(row[10]),
                        json.loads(row[11]), None if row[12] is None else json.loads(row[12]))
                for n, row in enumerate(rows, start=1)]

    def runs(self, trainee: str, case_key: str) -> list[RehearsalRun]:
        """The runs of every attempt of ``trainee`` on ``case_key``, oldest first (see
        :meth:`Attempt.run`)."""
        return [attempt.run() for attempt in self.attempts(trainee, case_key)]

    def trainees(self) -> list[str]:
        """Every trainee with at least one attempt, sorted."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT trainee FROM attempts ORDER BY trainee")]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AttemptHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
