"""Complication rules: a registry of literature-based checks over a simulated plan."""

from surgiplan.risk.context import RiskContext
from surgiplan.risk.model import Complication, Severity, complications_json, exit_code
from surgiplan.risk.registry import evaluate_all, load_thresholds, rules

__all__ = [
    "Complication",
    "RiskContext",
    "Severity",
    "complications_json",
    "evaluate_all",
    "exit_code",
    "load_thresholds",
    "rules",
]
