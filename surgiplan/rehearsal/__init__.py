"""Rehearsal: scripted or interactive runs of the plan, recorded, scored, replayed, tracked."""

from surgiplan.rehearsal.codec import (
    case_runs,
    export_runs,
    read_runs,
    run_from_json,
    run_to_json,
    store_in_case,
)
from surgiplan.rehearsal.history import AttemptHistory, default_history_path
from surgiplan.rehearsal.live import PHYSICS_RATE_HZ, PoseSampler, ToolPose, start_pose
from surgiplan.rehearsal.metrics import MotionMetrics, motion_metrics
from surgiplan.rehearsal.run import RehearsalRun, placement_at, pose_at, record_run
from surgiplan.rehearsal.safety import RunEvent, SafetyMetric
from surgiplan.rehearsal.script import RehearsalScript, read_script, script_from_json

__all__ = [
    "PHYSICS_RATE_HZ",
    "AttemptHistory",
    "MotionMetrics",
    "PoseSampler",
    "RehearsalRun",
    "RehearsalScript",
    "RunEvent",
    "SafetyMetric",
    "ToolPose",
    "case_runs",
    "default_history_path",
    "export_runs",
    "motion_metrics",
    "placement_at",
    "pose_at",
    "read_runs",
    "read_script",
    "record_run",
    "run_from_json",
    "run_to_json",
    "script_from_json",
    "start_pose",
    "store_in_case",
]
