"""Rasterise the analytic phantom anatomy into a uint8 label map.

Shapes are painted in a fixed order and later shapes overwrite earlier ones (vessels
over liver, kidneys over liver, ...), so every voxel carries exactly one label. The
tumour is painted last; its placement keeps it well clear of every vessel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.phantom import anatomy_spec as spec
from surgiplan.phantom.grid import PhantomGrid
from surgiplan.phantom.shapes import (
    box_mask,
    ellipsoid_mask,
    ellipsoid_volume_mm3,
    elliptic_cylinder_mask,
    smooth_centreline,
    tube_mask,
)


@dataclass(frozen=True)
class VesselSegment:
    """A rasterised vessel segment.

    Attributes
    ----------
    name : str
        Segment name within its vessel (e.g. ``"right_branch"``).
    radius_mm : float
        Tube radius in mm.
    centreline_mm : numpy.ndarray
        (N, 3) centreline points in LPS mm, about ``CENTRELINE_STEP_MM`` apart.
    """

    name: str
    radius_mm: float
    centreline_mm: np.ndarray


@dataclass(frozen=True)
class PhantomAnatomy:
    """Label map plus the analytic geometry it was painted from.

    Attributes
    ----------
    grid : PhantomGrid
        Voxel grid of ``labels``.
    labels : numpy.ndarray
        uint8 label map, shape ``grid.shape_kji`` indexed ``[k, j, i]``; ids in ``spec.LABELS``.
    vessels : dict of str to tuple of VesselSegment
        Vessel name (a label name) -> its segments.
    rib_centrelines_mm : tuple of numpy.ndarray
        (N, 3) LPS centreline of every rib.
    tumour_centre_mm : numpy.ndarray
        (3,) LPS centre of the spherical tumour in mm.
    tumour_radius_mm : float
        Tumour radius in mm.
    """

    grid: PhantomGrid
    labels: np.ndarray
    vessels: dict[str, tuple[VesselSegment, ...]]
    rib_centrelines_mm: tuple[np.ndarray, ...]
    tumour_centre_mm: np.ndarray
    tumour_radius_mm: float


def _layer(grid: PhantomGrid, depth_mm: float) -> np.ndarray:
    """Inside of the body outline shrunk by ``depth_mm`` along both semi-axes."""
    a, b = spec.BODY_SEMI_XY_MM
    return elliptic_cylinder_mask(grid, (0.0, 0.0), (a - depth_mm, b - depth_mm))


def _paint(labels: np.ndarray, mask: np.ndarray, name: str) -> None:
    labels[mask] = spec.LABEL_IDS[name]


def _paint_body_wall(labels: np.ndarray, grid: PhantomGrid) -> None:
    """Skin, subcutaneous fat, muscle wall, abdominal cavity and paraspinal muscles."""
    depths = np.cumsum([0.0, spec.SKIN_MM, spec.FAT_MM, spec.MUSCLE_MM])
    for depth, name in zip(depths, ("skin", "fat", "muscle", "abdominal_cavity"), strict=True):
        _paint(labels, _layer(grid, float(depth)), name)
    inside_fat = _layer(grid, spec.SKIN_MM + spec.FAT_MM)
    cx, cy = spec.PARASPINAL_CENTRE_XY_MM
    for side in (-1.0, 1.0):
        muscle = elliptic_cylinder_mask(grid, (side * cx, cy), spec.PARASPINAL_SEMI_XY_MM)
        _paint(labels, muscle & inside_fat, "muscle")


def _spine_masks(grid: PhantomGrid) -> dict[str, np.ndarray]:
    """Masks of vertebrae (bone), discs and spinal canal, periodic along z."""
    x, y, z = grid.coords()
    period = spec.VERTEBRA_HEIGHT_MM + spec.DISC_HEIGHT_MM
    phase = np.mod(z - (spec.FIRST_VERTEBRA_Z_MM - spec.VERTEBRA_HEIGHT_MM / 2.0), period)
    in_vertebra = phase < spec.VERTEBRA_HEIGHT_MM
    in_transverse = np.abs(phase - spec.VERTEBRA_HEIGHT_MM / 2.0) <= spec.TRANSVERSE_HEIGHT_MM / 2
    body = elliptic_cylinder_mask(grid, spec.VERTEBRA_CENTRE_XY_MM, spec.VERTEBRA_SEMI_XY_MM)
    r_canal = np.hypot(x - spec.CANAL_CENTRE_XY_MM[0], y - spec.CANAL_CENTRE_XY_MM[1])
    (sx0, sy0), (sx1, sy1) = spec.SPINOUS_BOX_XY_MM
    posterior = (r_canal <= spec.ARCH_RADIUS_MM) | box_mask(grid, (sx0, sy0, -1e9), (sx1, sy1, 1e9))
    tx0, tx1 = spec.TRANSVERSE_X_MM
    ty0, ty1 = spec.TRANSVERSE_Y_MM
    transverse = (np.abs(x) >= tx0) & (np.abs(x) <= tx1) & (y >= ty0) & (y <= ty1)
    bone = (in_vertebra & (body | posterior)) | (in_transverse & transverse)
    canal = np.broadcast_to(r_canal <= spec.CANAL_RADIUS_MM, grid.shape_kji)
    return {"intervertebral_disc": body & ~in_vertebra, "spine": bone, "spinal_canal": canal}


def rib_centrelines() -> tuple[np.ndarray, ...]:
    """Centrelines of all ribs (left and right of every :data:`spec.RIBS` entry).

    Returns
    -------
    tuple of numpy.ndarray
        (N, 3) LPS mm arrays, posterior end first.
    """
    a, b = (s - spec.RIB_DEPTH_MM for s in spec.BODY_SEMI_XY_MM)
    lines = []
    for rib in spec.RIBS:
        phi = np.linspace(spec.RIB_PHI_START_RAD, rib.phi_end_rad, 16)
        frac = (phi - phi[0]) / (phi[-1] - phi[0])
        z = rib.z_posterior_mm - rib.drop_mm * frac
        for side in (1.0, -1.0):
            control = np.column_stack([side * a * np.sin(phi), b * np.cos(phi), z])
            lines.append(smooth_centreline(control, spec.CENTRELINE_STEP_MM))
    return tuple(lines)


def vessel_segments() -> dict[str, tuple[VesselSegment, ...]]:
    """Resampled centrelines of every vessel segment in :data:`spec.VESSELS`."""
    return {
        name: tuple(
            VesselSegment(
                s.name, s.radius_mm, smooth_centreline(s.control_points_mm, spec.CENTRELINE_STEP_MM)
            )
            for s in segments
        )
        for name, segments in spec.VESSELS.items()
    }


def _paint_organs(labels: np.ndarray, grid: PhantomGrid) -> None:
    """Spleen and liver (clipped to the abdominal cavity), then both kidneys."""
    cavity = _layer(grid, spec.SKIN_MM + spec.FAT_MM + spec.MUSCLE_MM)

    def ell(e: spec.EllipsoidSpec) -> np.ndarray:
        return ellipsoid_mask(grid, e.centre_mm, e.semi_axes_mm, e.rotation())

    _paint(labels, ell(spec.SPLEEN) & cavity, "spleen")
    liver = np.zeros(grid.shape_kji, dtype=bool)
    for lobe in spec.LIVER_LOBES:
        liver |= ell(lobe)
    _paint(labels, liver & cavity, "liver")
    for name, kidney in spec.KIDNEYS.items():
        _paint(labels, ell(kidney), name)


def build_anatomy(grid: PhantomGrid) -> PhantomAnatomy:
    """Paint the whole phantom on ``grid``.

    Parameters
    ----------
    grid : PhantomGrid
        Target grid (any resolution covering the phantom field of view).

    Returns
    -------
    PhantomAnatomy
        Label map of shape ``grid.shape_kji`` (uint8) with its analytic geometry.
    """
    labels = np.zeros(grid.shape_kji, dtype=np.uint8)
    _paint_body_wall(labels, grid)
    _paint_organs(labels, grid)
    for name, mask in _spine_masks(grid).items():
        _paint(labels, mask, name)
    ribs = rib_centrelines()
    for line in ribs:
        _paint(labels, tube_mask(grid, line, spec.RIB_RADIUS_MM), "ribs")
    vessels = vessel_segments()
    for name, segments in vessels.items():
        for seg in segments:
            _paint(labels, tube_mask(grid, seg.centreline_mm, seg.radius_mm), name)
    centre = np.asarray(spec.TUMOUR_CENTRE_MM, dtype=float)
    radius = spec.TUMOUR_RADIUS_MM
    _paint(labels, ellipsoid_mask(grid, centre, (radius,) * 3), "tumour")
    return PhantomAnatomy(grid, labels, vessels, ribs, centre, radius)


def analytic_volumes_ml(grid: PhantomGrid) -> dict[str, float | None]:
    """Exact volumes (mL) of the structures whose painted shape is a simple solid.

    Body-wall layers and the aorta are straight prisms spanning the grid's z extent;
    the kidneys and tumour are whole ellipsoids that nothing overwrites. Other
    structures (clipped, overlapping or overwritten) map to ``None``.

    Parameters
    ----------
    grid : PhantomGrid
        Grid whose z extent bounds the prisms.

    Returns
    -------
    dict of str to float or None
        One entry per label name.
    """
    height = grid.shape_kji[0] * grid.spacing_mm[2]
    a, b = spec.BODY_SEMI_XY_MM

    def ring(d0: float, d1: float) -> float:
        return np.pi * ((a - d0) * (b - d0) - (a - d1) * (b - d1)) * height

    skin_fat = spec.SKIN_MM + spec.FAT_MM
    aorta_r = spec.VESSELS["aorta"][0].radius_mm
    mm3 = {
        "skin": ring(0.0, spec.SKIN_MM),
        "fat": ring(spec.SKIN_MM, skin_fat),
        "tumour": ellipsoid_volume_mm3((spec.TUMOUR_RADIUS_MM,) * 3),
        "aorta": np.pi * aorta_r**2 * height,
        **{k: ellipsoid_volume_mm3(e.semi_axes_mm) for k, e in spec.KIDNEYS.items()},
    }
    return {name: (mm3[name] / 1000.0 if name in mm3 else None) for name in spec.LABELS.values()}
