"""The report's pictures: the twin rendered off-screen, and the charts.

Views (:func:`surgiplan.render.offscreen.render_picture`, no window): anterior, lateral (the
patient's right), the planned approach, and along each instrument with a path. The approach
view looks along the mean direction of the instruments' paths at the centre of their targets,
from :data:`surgiplan.render.scene.DEFAULT_REACH_MM` away, head up: what the surgeon faces
when starting the approach. Incisions are traced once (the plan check already traced them)
and handed to every view. Charts come from :mod:`surgiplan.render.charts` on the Agg canvas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import to_hex
from PIL import Image

from surgiplan.case.model import Case
from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.progress import ProgressCallback, report
from surgiplan.rehearsal import RehearsalRun
from surgiplan.render.charts import distance_profile_figure, figure_png, progress_figure
from surgiplan.render.offscreen import render_picture
from surgiplan.report.profiles import DistanceProfile, path_of
from surgiplan.simulation.plan_check import CheckResult
from surgiplan.twin.twin import DisplaySettings

PICTURE_SIZE = (800, 600)
"""Rendered views, pixels (width, height)."""
CHART_DPI = 150
CHART_MAX_MM = 40.0
"""Top of the clearance charts' axis (mm): farther structures leave the chart."""
ORGAN_OPACITY = 0.3
"""Opacity of the soft organs in the approach and along views."""
TARGET_OPACITY = 0.6
"""Opacity of the instruments' target structures in those views."""
APPROACH_VIEW_ID = "report-approach-view"
"""Id of the camera placement of the approach view (not a plan item: nothing is hidden)."""


@dataclass(frozen=True)
class Picture:
    """One picture of the report.

    Attributes
    ----------
    key : str
        ``"anterior"``, ``"lateral"``, ``"approach"``, ``"along:<id>"``, ``"distance:<id>"``
        or ``"progress"``.
    title, caption : str
        Heading and one sentence under it.
    png : bytes
        The picture as PNG.
    size : (width, height)
        Pixels.
    """

    key: str
    title: str
    caption: str
    png: bytes
    size: tuple[int, int]


def png_bytes(image: np.ndarray) -> bytes:
    """An (h, w, 3) uint8 picture as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def approach_placement(placements: Sequence[InstrumentPlacement]) -> InstrumentPlacement | None:
    """A camera "placement" looking along the instruments' mean path direction at the centre
    of their targets, superior up; ``None`` when no instrument has a path."""
    paths = [p for p in (path_of(placement) for placement in placements) if p is not None]
    if not paths:
        return None
    directions = [(t - e) / np.linalg.norm(t - e) for e, t in paths if np.linalg.norm(t - e) > 0]
    axis = np.mean(directions, axis=0) if directions else np.zeros(3)
    if np.linalg.norm(axis) < 1e-6:
        axis = np.array([0.0, 1.0, 0.0])  # opposite paths: look from the front
    axis /= np.linalg.norm(axis)
    up = np.array([0.0, 0.0, 1.0])
    if abs(axis @ up) > 0.95:
        up = np.array([0.0, -1.0, 0.0])
    up = up - (up @ axis) * axis
    up /= np.linalg.norm(up)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = np.cross(up, axis), up, axis
    pose[:3, 3] = np.mean([t for _, t in paths], axis=0)
    return InstrumentPlacement(APPROACH_VIEW_ID, "approach_view", pose)


def see_inside(case: Case, check: CheckResult) -> dict[str, DisplaySettings]:
    """Display settings of the approach and along views: soft organs see-through
    (:data:`ORGAN_OPACITY`, targets :data:`TARGET_OPACITY`) so the targets, the critical
    structures and the paths inside them show; bone and critical structures as displayed."""
    targets = {f.target_structure for f in check.context.instruments.values()}
    out = {}
    for name, model in case.twin.structures.items():
        if model.info.critical or model.info.tissue == "bone" or name not in case.twin.display:
            continue
        shown = case.twin.display[name]
        opacity = TARGET_OPACITY if name in targets else ORGAN_OPACITY
        out[name] = DisplaySettings(shown.colour, min(opacity, shown.opacity), shown.visible)
    return out


def twin_pictures(case: Case, check: CheckResult, catalogue: Catalogue, *,
                  size: tuple[int, int] = PICTURE_SIZE,
                  progress: ProgressCallback | None = None) -> list[Picture]:
    """Render the twin and plan from the standard views (see the module docstring)."""
    paths = {item_id: f.path.path_lps_mm for item_id, f in check.context.incisions.items()}
    flagged: dict[str, tuple[str, ...]] = {}
    for c in check.complications:
        flagged[c.item_id or ""] = flagged.get(c.item_id or "", ()) + tuple(c.structures)
    views = [("anterior", "Anterior view", "The twin and the plan seen from the front.", None),
             ("lateral", "Lateral view", "The twin and the plan seen from the patient's right.",
              None)]
    approach = approach_placement(list(case.plan.instruments.values()))
    if approach is not None:
        views.append(("approach", "Planned approach",
                      "Looking along the instruments' mean path direction at their targets.",
                      approach))
    for placement in case.plan.instruments.values():
        if path_of(placement) is not None:
            views.append((f"along:{placement.id}", f"Along {placement.id}",
                          f"Probe's-eye view down {placement.id} ({placement.instrument}) "
                          "towards its target; structures it is flagged against are "
                          "emphasised.", placement))
    inside = see_inside(case, check)
    pictures = []
    for done, (key, title, caption, placement) in enumerate(views):
        report(progress, done, len(views), f"Rendering the {title.lower()}")
        view = key.split(":")[0] if placement is None else "along"
        highlight = flagged.get(placement.id, ()) if placement is not None else ()
        image = render_picture(case, view, size, catalogue=catalogue, placement=placement,
                               incision_paths=paths, display=inside if placement else None,
                               highlight=tuple(dict.fromkeys(highlight)))
        pictures.append(Picture(key, title, caption, png_bytes(image), (image.shape[1],
                                                                         image.shape[0])))
    report(progress, len(views), len(views), "Views rendered")
    return pictures


def chart_pictures(case: Case, check: CheckResult, profiles: Sequence[DistanceProfile],
                   runs: Sequence[RehearsalRun], *, dpi: int = CHART_DPI) -> list[Picture]:
    """Distance along each instrument's path, and the rehearsal progress when there are runs."""
    margin = None
    thresholds = check.context.thresholds
    if "safety_margin" in thresholds:
        margin = float(thresholds.rule("safety_margin").values.get("warning_mm", 0.0)) or None
    colours = {name: to_hex(settings.colour) for name, settings in case.twin.display.items()}
    out = []
    for profile in profiles:
        figure = distance_profile_figure(
            profile.along_mm, profile.clearance_mm, margin_mm=margin, colours=colours,
            y_max_mm=CHART_MAX_MM,
            title=f"{profile.item_id}: clearance of the shaft to critical structures")
        figure.axes[0].set_ylabel("Clearance (mm)")
        data = figure_png(figure, dpi)
        out.append(Picture(
            f"distance:{profile.item_id}", f"Clearance along {profile.item_id}",
            f"Distance from the shaft surface (radius {profile.shaft_radius_mm:.2f} mm) to each "
            "critical structure, from the entry (0 mm) to the target (axis capped at "
            f"{CHART_MAX_MM:.0f} mm); the dashed line is the safety margin's warning "
            "threshold.", data, _png_size(data)))
    if runs:
        data = figure_png(progress_figure(list(runs)), dpi)
        out.append(Picture("progress", "Rehearsal progress",
                           "Composite score per attempt (green: every safety metric passed; "
                           "red: one failed) and the final tip error.", data, _png_size(data)))
    return out
