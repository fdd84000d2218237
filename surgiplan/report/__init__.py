"""The plan report: a de-identified PDF (and HTML) of a case, and the export bundle.

>>> from surgiplan.report import ReportOptions, write_report
>>> result = write_report(case, "plan.pdf", html_path="plan.html",
...                       bundle_dir="plan-export")  # doctest: +SKIP
"""

from surgiplan.report.bundle import BundleResult, write_bundle
from surgiplan.report.model import ReportModel
from surgiplan.report.writer import ReportOptions, ReportResult, check_output_paths, write_report

__all__ = [
    "BundleResult",
    "ReportModel",
    "ReportOptions",
    "ReportResult",
    "check_output_paths",
    "write_bundle",
    "write_report",
]
