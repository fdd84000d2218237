"""``surgiplan case create|info`` and ``surgiplan plan``: the single-file case on the CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from surgiplan.cli_common import add_recipe_arguments, check_writable, load_source, recipe_from_args
from surgiplan.cli_output import ProgressBar, incision_line, trajectory_line, twin_table
from surgiplan.errors import InputError


def _cmd_case_create(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import case_path, save_case
    from surgiplan.case.create import create_case

    output = case_path(args.output)
    check_writable(output)
    recipe = recipe_from_args(args)
    progress = ProgressBar()
    volume = load_source(args.source, args.series, progress)
    case = create_case(volume, recipe, source=args.source, progress=progress)
    written = save_case(case, output, include_identity=args.include_identity)
    print(twin_table(case.twin))
    print(f"case saved: {written}")
    return 0


def _cmd_case_info(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import case_info

    info = case_info(args.case)
    if args.json:
        json.dump(info.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(case_info_text(info))
    return 0


def case_info_text(info) -> str:
    """A readable summary of a case file (no patient identifiers)."""
    source = info.provenance.source
    lines = [f"case {info.path} (schema {info.schema_version}, SurgiPlan "
             f"{info.software_version}, saved {info.saved})",
             f"source: {source.get('modality', '?')} {source.get('series_description', '')}"
             f" series {source.get('series_uid') or 'without UID'}, "
             f"content sha256 {str(source.get('content_sha256', ''))[:16]}...",
             f"author {info.provenance.author}, created {info.provenance.created}",
             "structures:"]
    for entry in info.structures:
        flag = " (critical)" if entry.critical else ""
        lines.append(f"  {entry.name:<16} {entry.tissue:<12} {entry.volume_ml:9.1f} mL "
                     f"{entry.triangles:8d} triangles {entry.tet_nodes:6d} tet nodes{flag}")
    lines.append("plan: " + ", ".join(f"{len(ids)} {name}" for name, ids in
                                      info.plan_ids.items()))
    for name, ids in info.plan_ids.items():
        if ids:
            lines.append(f"  {name}: {', '.join(ids)}")
    lines += thresholds_lines(info.thresholds)
    lines.append("steps: " + ", ".join(step.name for step in info.provenance.steps))
    return "\n".join(lines)


def thresholds_lines(overrides: dict) -> list[str]:
    """The plan's threshold overrides, one line per rule (or that it uses the shipped table)."""
    if not overrides:
        return ["thresholds: the shipped table (data/risk_thresholds.json)"]
    lines = ["thresholds overridden by the plan:"]
    for rule_id, entry in overrides.items():
        lines.append(f"  {rule_id}: {json.dumps(entry, sort_keys=True)}")
    return lines


def _cmd_plan(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import load_case, save_case
    from surgiplan.plan.apply import apply_plan_items
    from surgiplan.plan.commands import UndoStack
    from surgiplan.plan.plan_json import read_plan_items

    if not args.apply:
        raise InputError("nothing to do: give --apply PLAN.json (see surgiplan plan --help)")
    items = read_plan_items(args.apply)
    case = load_case(args.case)
    stack = UndoStack(case.plan)
    check = apply_plan_items(stack, items, case.twin, volume=case.volume,
                             text=f"Apply {Path(args.apply).name}")
    case.provenance.add_step("plan", file=Path(args.apply).name,
                             added={k: len(getattr(items, k)) for k in
                                    ("incisions", "instruments", "landmarks", "measurements")},
                             thresholds=sorted(items.thresholds))
    save_case(case, args.case)
    for item_id, path in check.incisions.items():
        print(incision_line(item_id, path))
    for item_id, trajectory in check.trajectories.items():
        print(trajectory_line(item_id, trajectory))
    if items.thresholds:
        print("\n".join(thresholds_lines(case.plan.thresholds)))
    print(f"plan applied and saved: {args.case}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from surgiplan.case.case_file import load_case
    from surgiplan.risk import complications_json
    from surgiplan.simulation.plan_check import check_case

    case = load_case(args.case)
    result = check_case(case, progress=ProgressBar())
    if args.json:
        json.dump(complications_json(result.complications), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(complications_text(result.complications))
    return result.exit_code


def complications_text(complications) -> str:
    """One line per complication, critical first; a clear line when there is none."""
    if not complications:
        return "no complications flagged"
    lines = []
    for c in complications:
        where = f" [{c.item_id}]" if c.item_id else ""
        lines.append(f"{c.severity.label.upper():<8} {c.rule}{where}: {c.message}")
    return "\n".join(lines)


def add_case_commands(commands) -> None:
    """Register ``case`` (create, info) and ``plan`` on the top-level subparsers."""
    case = commands.add_parser("case", help="create or inspect a .surgiplan case file")
    case_commands = case.add_subparsers(dest="case_command", required=True,
                                        parser_class=type(case))
    create = case_commands.add_parser("create", help="build a case: volume, twin, empty plan")
    add_recipe_arguments(create)
    create.add_argument("--output", required=True, help="case file (.surgiplan)")
    create.add_argument("--include-identity", action="store_true",
                        help="also store patient identifiers (left out by default)")
    create.set_defaults(run=_cmd_case_create)
    info = case_commands.add_parser("info", help="print structures, plan items, provenance")
    info.add_argument("case", help="case file (.surgiplan)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_cmd_case_info)
    plan = commands.add_parser("plan", help="edit a case's plan from a plan JSON file")
    plan.add_argument("case", help="case file (.surgiplan)")
    plan.add_argument("--apply", metavar="PLAN.json",
                      help="add the file's incisions, instruments, landmarks, measurements")
    plan.set_defaults(run=_cmd_plan)
    check = commands.add_parser(
        "check", help="simulate the plan and flag likely complications (exit 1 if critical)")
    check.add_argument("case", help="case file (.surgiplan)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(run=_cmd_check)

