"""Text and JSON renderings of core results for the command line (no computation here)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from surgiplan.imaging import ScanResult, SeriesCandidate, Volume


def series_json(series: SeriesCandidate) -> dict:
    """The CLI contract's JSON object for one series candidate."""
    spacing = series.spacing_mm
    return {
        "index": series.index,
        "uid": series.uid,
        "modality": series.modality,
        "description": series.description,
        "files": series.files,
        "is_volume": series.is_volume,
        "shape": list(series.shape),
        "spacing_mm": None if spacing is None else [round(float(v), 6) for v in spacing],
        "warnings": [{"code": w.code, "message": w.message} for w in series.warnings],
        "series_number": series.series_number,
        "images": len(series.images),
    }


def scan_json(result: ScanResult) -> dict:
    """The CLI contract's JSON object for a whole scan."""
    return {
        "series": [series_json(s) for s in result.series],
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
    }


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def scan_table(result: ScanResult) -> str:
    """A readable table of the series found and the files skipped."""
    header = ["#", "modality", "files", "volume", "shape (s,r,c)", "spacing mm (c,r,s)",
              "description", "warnings"]
    rows = []
    for s in result.series:
        spacing = "-" if s.spacing_mm is None else "x".join(f"{v:.3g}" for v in s.spacing_mm)
        rows.append([
            str(s.index), s.modality, str(s.files), "yes" if s.is_volume else "no",
            "x".join(str(v) for v in s.shape), spacing, s.description[:32] or "-",
            ",".join(dict.fromkeys(w.code for w in s.warnings)) or "-",
        ])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), *(_row(r, widths) for r in rows)]
    if not result.series:
        lines.append("(no DICOM image series found)")
    for s in result.series:
        for w in s.warnings:
            lines.append(f"series {s.index}: [{w.code}] {w.message}")
    if result.skipped:
        lines.append(f"{len(result.skipped)} file(s) not used:")
        lines += [f"  {s.path}: {s.reason}" for s in result.skipped]
    return "\n".join(lines)


def volume_summary(volume: Volume) -> str:
    """A few de-identified lines describing an imported volume."""
    voxels = volume.voxels
    spacing = ", ".join(f"{v:.4g}" for v in volume.spacing_mm)
    origin = ", ".join(f"{v:.2f}" for v in volume.origin_lps_mm)
    unit = "HU" if volume.modality == "CT" else "units"
    description = volume.metadata.get("series_description") or "no description"
    return "\n".join([
        f"modality {volume.modality}, {description}",
        f"grid {volume.shape[2]} x {volume.shape[1]} x {volume.shape[0]} (columns x rows x slices),"
        f" spacing {spacing} mm, {voxels.dtype}, {volume.nbytes / 2**20:.1f} MiB",
        f"origin (LPS mm) {origin}",
        f"values {float(voxels.min()):.0f} .. {float(voxels.max()):.0f} {unit}",
    ])


def twin_table(twin) -> str:
    """A readable table of the twin's structures."""
    header = ["structure", "voxels", "volume mL", "area cm2", "triangles", "watertight",
              "tet nodes", "tets"]
    rows = [[s.name, str(s.voxels), f"{s.volume_ml:.1f}", f"{s.surface_area_cm2:.1f}",
             str(s.triangles), "yes" if s.watertight else "NO", str(s.tet_nodes),
             str(s.tet_elements)] for s in twin.summaries()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(_row(r, widths) for r in [header, *rows])


def trajectory_line(item_id: str, trajectory) -> str:
    """One sentence on a planned instrument path: length, entry angle, structures crossed."""
    crossed = ", ".join(f"{c.structure} {c.enter_mm:.1f}-{c.leave_mm:.1f} mm"
                        for c in trajectory.crossings)
    angle = trajectory.angle_to_skin_normal_deg
    angle_text = "unknown angle" if angle is None else f"{angle:.0f} deg"
    return (f"instrument {item_id}: path {trajectory.length_mm:.1f} mm, {angle_text} to the "
            f"skin normal; crosses {crossed or 'nothing'}")


def incision_line(item_id: str, path) -> str:
    """One sentence on a traced incision."""
    return (f"incision {item_id}: {path.length_mm:.1f} mm on the {path.structure}, "
            f"depth {path.depth_mm:.1f} mm")


class ProgressBar:
    """A one-line text progress bar on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._label = ""

    def __call__(self, done: int, total: int, label: str) -> bool:
        if not self.enabled:
            return True
        now = time.monotonic()
        if label == self._label and done < total and now - self._last < 0.1:
            return True
        self._last, self._label = now, label
        fraction = done / total if total else 1.0
        bar = "#" * int(30 * fraction)
        self.stream.write(f"\r{label:<18} [{bar:<30}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
        return True
