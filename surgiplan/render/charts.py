"""Charts of a case as matplotlib figures: rehearsal progress, distance along a trajectory.

The figures are built directly as :class:`matplotlib.figure.Figure` objects, never through
``pyplot``: no global state, no backend chosen here, so any canvas can draw them (Agg for the
report through :func:`figure_png`, Qt's ``FigureCanvasQTAgg`` in the app). No Qt is imported.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from surgiplan.rehearsal.run import RehearsalRun

PASS_COLOUR = "#2e9d4a"
"""Marker and fill colour of a run that passed every safety metric."""
FAIL_COLOUR = "#d0342c"
"""Marker and fill colour of a run that failed a safety metric."""
SCORE_COLOUR = "#1f3b73"
"""Line colour of the composite score."""
ERROR_COLOUR = "#8a5a00"
"""Line colour of the tip error (second axis)."""
FIGURE_SIZE_IN = (6.4, 3.2)
"""Default figure size (inches)."""


def run_colours(runs: Sequence[RehearsalRun]) -> list[str]:
    """Colour of each run: :data:`PASS_COLOUR` when it passed every safety metric, else fail."""
    return [PASS_COLOUR if run.passed else FAIL_COLOUR for run in runs]


def progress_figure(runs: Sequence[RehearsalRun], *,
                    size_in: tuple[float, float] = FIGURE_SIZE_IN) -> Figure:
    """Rehearsal progress over attempts.

    Parameters
    ----------
    runs : sequence of RehearsalRun
        Attempts in the order they are numbered (attempt 1 is ``runs[0]``).
    size_in : (2,) tuple of float
        Figure width and height (inches).

    Returns
    -------
    matplotlib.figure.Figure
        Axes ``figure.axes[0]``: attempt number 1..n (x) against the composite score 0-100
        (a line with one marker per run, green where the run passed every safety metric and red
        where one failed, the area under each marker's span filled in the same colour);
        ``figure.axes[1]`` (twin y axis, when any run has one): final tip error (mm).
        With no runs, the axes say so.
    """
    figure = Figure(figsize=size_in, layout="constrained")
    axes = figure.add_subplot()
    axes.set_xlabel("Attempt")
    axes.set_ylabel("Composite score (0-100)")
    axes.set_ylim(0, 100)
    axes.set_title("Rehearsal progress")
    if not runs:
        axes.text(0.5, 0.5, "No rehearsal attempts", ha="center", va="center",
                  transform=axes.transAxes)
        return figure
    attempts = np.arange(1, len(runs) + 1, dtype=float)
    scores = np.array([float(run.composite_score) for run in runs])
    colours = run_colours(runs)
    axes.plot(attempts, scores, color=SCORE_COLOUR, linewidth=1.5, zorder=2,
              label="composite score")
    axes.scatter(attempts, scores, c=colours, s=42, edgecolors="black", linewidths=0.5,
                 zorder=3)
    for x, score, colour in zip(attempts, scores, colours, strict=True):
        axes.fill_between([x - 0.4, x + 0.4], 0, score, color=colour, alpha=0.22, zorder=1,
                          linewidth=0)
    axes.set_xlim(0.4, len(runs) + 0.6)
    axes.set_xticks(attempts)
    errors = [run.metrics.tip_error_mm for run in runs]
    if any(error is not None for error in errors):
        _tip_error_axis(axes, attempts, errors)
    return figure


def _tip_error_axis(axes, attempts: np.ndarray, errors: list[float | None]) -> None:
    """Tip error (mm) on a second y axis; runs without one are gaps."""
    second = axes.twinx()
    values = np.array([np.nan if e is None else float(e) for e in errors])
    second.plot(attempts, values, color=ERROR_COLOUR, linestyle="--", marker="s",
                markersize=4, label="tip error")
    second.set_ylabel("Tip error (mm)", color=ERROR_COLOUR)
    second.tick_params(axis="y", colors=ERROR_COLOUR)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    second.set_ylim(0, max(1.0, 1.15 * top))


def distance_profile_figure(along_mm: np.ndarray, distances_mm: Mapping[str, np.ndarray], *,
                            title: str = "Distance to critical structures",
                            margin_mm: float | None = None,
                            colours: Mapping[str, str] | None = None,
                            y_max_mm: float | None = None,
                            size_in: tuple[float, float] = FIGURE_SIZE_IN) -> Figure:
    """Distance to each critical structure along a trajectory.

    Parameters
    ----------
    along_mm : (n,) float64 ndarray
        Arc length from the entry point (mm), increasing.
    distances_mm : mapping of str to (n,) float64 ndarray
        Per structure name, the distance from the path sample to its surface (mm; 0 or
        negative inside the structure).
    title : str
        Axes title (e.g. the instrument's name).
    margin_mm : float, optional
        A safety margin drawn as a dashed horizontal line.
    colours : mapping of str to colour, optional
        Line colour per structure (matplotlib's cycle otherwise).
    y_max_mm : float, optional
        Top of the distance axis when the data go higher (far structures leave the plot, the
        near ones keep their detail); automatic otherwise.
    size_in : (2,) tuple of float
        Figure width and height (inches).

    Returns
    -------
    matplotlib.figure.Figure
        One line per structure in ``figure.axes[0]`` (in the mapping's order), labelled with
        the structure's name; x from entry (0) to target, y distance (mm).
    """
    figure = Figure(figsize=size_in, layout="constrained")
    axes = figure.add_subplot()
    axes.set_xlabel("Depth along the path from entry (mm)")
    axes.set_ylabel("Distance to surface (mm)")
    axes.set_title(title)
    along_mm = np.asarray(along_mm, dtype=float)
    if not distances_mm:
        axes.text(0.5, 0.5, "No critical structures", ha="center", va="center",
                  transform=axes.transAxes)
        return figure
    for name, distance in distances_mm.items():
        colour = None if colours is None else colours.get(name)
        axes.plot(along_mm, np.asarray(distance, dtype=float), label=name, color=colour,
                  linewidth=1.4)
    axes.axhline(0.0, color="black", linewidth=0.8)
    if margin_mm is not None:
        axes.axhline(margin_mm, color=FAIL_COLOUR, linestyle="--", linewidth=1.0,
                     label=f"margin {margin_mm:g} mm")
    if len(along_mm):
        axes.set_xlim(float(along_mm[0]), float(along_mm[-1]))
    if y_max_mm is not None:
        low, high = axes.get_ylim()
        if high > y_max_mm:
            axes.set_ylim(low, y_max_mm)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                borderaxespad=0.0)
    return figure


def figure_png(figure: Figure, dpi: int = 150) -> bytes:
    """The figure drawn by Agg as PNG bytes at ``dpi`` (dots per inch).

    The figure keeps whatever canvas it had (the app's Qt canvas stays attached).
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, backend="agg")
    return buffer.getvalue()
