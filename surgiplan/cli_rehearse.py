"""``surgiplan rehearse CASE --script MOVES.json``: a scripted rehearsal, headless.

Prints the motion metrics and the pass/fail of each safety metric; exit 0 when every safety
metric passes, 1 when one fails, 2 on bad input. The run is saved into the case file and into
the attempt history.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from surgiplan.cli_output import ProgressBar


def case_key(case, path: Path | None) -> str:
    """The history key of a case (:func:`surgiplan.rehearsal.history.case_key`; imported when
    called, so the command line starts without the rehearsal core)."""
    from surgiplan.rehearsal.history import case_key as history_key

    return history_key(case, path)


def _number(value: float | None, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def run_text(run, attempt_number: int) -> str:
    """The run as readable lines: metrics, then one PASS/FAIL line per safety metric."""
    m = run.metrics
    lines = [
        f"rehearsal {run.id}: {run.instrument} ({run.instrument_type}), trainee {run.trainee},"
        f" attempt {attempt_number}",
        f"  time                 {_number(m.time_s, ' s')}",
        f"  path length          {_number(m.path_length_mm, ' mm')}",
        f"  angular path         {_number(m.angular_path_deg, ' deg')}",
        f"  economy of motion    {_number(m.economy_of_motion, '', 3)} (ideal "
        f"{_number(m.ideal_path_length_mm, ' mm')})",
        f"  smoothness (LDLJ)    {_number(m.smoothness_ldlj, '', 3)}",
        f"  idle ratio           {_number(m.idle_ratio, '', 3)}",
        f"  tip error            {_number(m.tip_error_mm, ' mm')}",
        f"  angular deviation    {_number(m.angular_deviation_deg, ' deg')}",
        "safety:",
    ]
    for metric in run.safety:
        verdict = "PASS" if metric.passed else "FAIL"
        lines.append(f"  {verdict} {metric.name:<18} {metric.count} ({metric.detail})")
    lines.append(f"events: {len(run.events)}")
    for event in run.events:
        lines.append(f"  {event.time_s:7.2f} s {event.kind:<16} {event.message}")
    lines.append(f"composite score {run.composite_score:.1f} (for information only)")
    lines.append("result: " + ("PASS" if run.passed else "FAIL (a safety metric failed)"))
    return "\n".join(lines)


def _cmd_rehearse(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import load_case, save_case
    from surgiplan.rehearsal import AttemptHistory, read_script, record_run, run_to_json
    from surgiplan.rehearsal.codec import store_in_case

    script = read_script(args.script)
    path = Path(args.case)
    case = load_case(path)
    run = record_run(case, script, trainee=args.trainee, progress=ProgressBar())
    store_in_case(case, run)
    case.provenance.add_step("rehearse", run=run.id, instrument=run.instrument,
                             passed=run.passed)
    save_case(case, path)
    with AttemptHistory(args.history) as history:
        attempt = history.add(run, case_key(case, path))
    if args.json:
        data = run_to_json(run)
        data["attempt"] = attempt.number
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(run_text(run, attempt.number))
    return 0 if run.passed else 1


def add_rehearse_command(commands) -> None:
    """Register ``rehearse`` on the top-level subparsers."""
    rehearse = commands.add_parser(
        "rehearse", help="run a scripted rehearsal and score it (exit 1 if a safety metric "
                         "fails)")
    rehearse.add_argument("case", help="case file (.surgiplan); the run is saved into it")
    rehearse.add_argument("--script", required=True, metavar="MOVES.json",
                          help='moves: {"instrument": id, "samples": [{"t", "tip_lps_mm", '
                               '"axis"}]}')
    rehearse.add_argument("--trainee", default="anonymous", help="who rehearses (history key)")
    rehearse.add_argument("--history", metavar="FILE",
                          help="attempt history database (default: the user data folder)")
    rehearse.add_argument("--json", action="store_true", help="print the run as one JSON object")
    rehearse.set_defaults(run=_cmd_rehearse)
