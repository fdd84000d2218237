"""The report's pictures: the twin rendered off-screen, and the charts.

Views (one :class:`surgiplan.render.offscreen.OffscreenRenderer`, no window, the scene built
once): anterior, lateral (the patient's right), the planned approach, and along each
instrument with a path. The approach view looks along the mean direction of the instruments'
paths at the centre of their targets, from :data:`surgiplan.render.scene.DEFAULT_REACH_MM`
away, head up: what the surgeon faces when starting the approach. Incisions are traced once
(the plan check already traced them) and handed to the renderer. Charts come from
:mod:`surgiplan.render.charts` on the Agg canvas.
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
from surgiplan.render.offscreen import ApproachCamera, OffscreenRenderer
from surgiplan.render.scene import DEFAULT_REACH_MM
from surgiplan.report.profiles import DistanceProfile, path_of
from surgiplan.simulation.plan_check import CheckResult
from surgiplan.twin.twin import DisplaySettings

PICTURE_SIZE = (800, 600)
"""Rendered views, pixels (width, height)."""
PNG_COMPRESS_LEVEL = 6
"""zlib level of the rendered views' PNGs. Pillow's ``optimize`` (level 9 and a filter search)
made the sample case's five 800 x 600 views 8 % smaller (700 kB instead of 765 kB) at 5-20
times the encoding time: 2.4 s, most of the views step."""
CHART_DPI = 150
CHART_MAX_MM = 40.0
"""Top of the clearance charts' axis (mm): farther structures leave the chart."""
ORGAN_OPACITY = 0.3
"""Opacity of the soft organs in the approach and along views."""
TARGET_OPACITY = 0.6
"""Opacity of the instruments' target structures in those views."""


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
    """An (h, w, 3) uint8 picture as PNG bytes, zlib level :data:`PNG_COMPRESS_LEVEL`."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def approach_camera(placements: Sequence[InstrumentPlacement]) -> ApproachCamera | None:
    """The camera of the approach view; ``None`` when no instrument has a path.

    It looks along the instruments' mean path direction (entry to target; from the front,
    +y, when the paths cancel out) at the centre of their targets (LPS mm), from
    :data:`~surgiplan.render.scene.DEFAULT_REACH_MM` away, superior up (posterior up when
    looking nearly head to foot or foot to head).
    """
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
    focus_lps_mm = np.mean([t for _, t in paths], axis=0)
    return ApproachCamera(axis, focus_lps_mm, DEFAULT_REACH_MM, up)


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


@dataclass(frozen=True)
class _View:
    """One rendered view of the report: its picture's key, title and caption, and camera."""

    key: str
    title: str
    caption: str
    placement: InstrumentPlacement | None = None
    approach: ApproachCamera | None = None


def _views(case: Case) -> list[_View]:
    """Anterior, lateral, the approach (when an instrument has a path), along each path."""
    views = [_View("anterior", "Anterior view", "The twin and the plan seen from the front."),
             _View("lateral", "Lateral view",
                   "The twin and the plan seen from the patient's right.")]
    approach = approach_camera(list(case.plan.instruments.values()))
    if approach is not None:
        views.append(_View("approach", "Planned approach",
                           "Looking along the instruments' mean path direction at their "
                           "targets.", approach=approach))
    for placement in case.plan.instruments.values():
        if path_of(placement) is not None:
            views.append(_View(f"along:{placement.id}", f"Along {placement.id}",
                               f"Probe's-eye view down {placement.id} "
                               f"({placement.instrument}) towards its target; structures it "
                               "is flagged against are emphasised.", placement=placement))
    return views


def twin_pictures(case: Case, check: CheckResult, catalogue: Catalogue, *,
                  size: tuple[int, int] = PICTURE_SIZE, hidden: Sequence[str] = (),
                  progress: ProgressCallback | None = None) -> list[Picture]:
    """Render the twin and plan from the standard views (see the module docstring), all
    with one off-screen renderer; the structures ``hidden`` (a head scan's face surfaces) are
    left out of every view."""
    paths = {item_id: f.path.path_lps_mm for item_id, f in check.context.incisions.items()}
    flagged: dict[str, tuple[str, ...]] = {}
    for c in check.complications:
        flagged[c.item_id or ""] = flagged.get(c.item_id or "", ()) + tuple(c.structures)
    views = _views(case)
    hide = {name: DisplaySettings(case.twin.display[name].colour, 0.0, False)
            for name in hidden if name in case.twin.display}
    inside = {**see_inside(case, check), **hide}
    pictures = []
    with OffscreenRenderer(case, size, catalogue=catalogue, incision_paths=paths) as renderer:
        for done, view in enumerate(views):
            report(progress, done, len(views), f"Rendering the {view.title.lower()}")
            placement = view.placement
            highlight = flagged.get(placement.id, ()) if placement is not None else ()
            inner = placement is not None or view.approach is not None
            image = renderer.picture(view.key.split(":")[0], placement=placement,
                                     approach=view.approach,
                                     display=inside if inner else (hide or None),
                                     highlight=tuple(dict.fromkeys(highlight)))
            pictures.append(Picture(view.key, view.title, view.caption, png_bytes(image),
                                    (image.shape[1], image.shape[0])))
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
