"""Fixed anatomical parameters of the synthetic abdominal phantom.

All positions are patient LPS millimetres (+x = patient Left, +y = Posterior,
+z = Superior); the body axis is the z axis through x = y = 0. So the liver, on the
patient's right, sits at negative x. The anatomy is the same for every seed (only the
image noise and the DICOM UIDs depend on the seed), so the ground truth is stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.phantom.shapes import rotation_matrix

Point = tuple[float, float, float]

#: Label id -> structure name of the label map (0 is background air).
LABELS: dict[int, str] = {
    1: "skin",
    2: "fat",
    3: "muscle",
    4: "ribs",
    5: "spine",
    6: "liver",
    7: "tumour",
    8: "aorta",
    9: "vena_cava",
    10: "portal_vein",
    11: "hepatic_veins",
    12: "kidney_left",
    13: "kidney_right",
    14: "spleen",
    15: "abdominal_cavity",
    16: "intervertebral_disc",
    17: "spinal_canal",
}
#: Structure name -> label id.
LABEL_IDS: dict[str, int] = {name: label for label, name in LABELS.items()}

#: Noise-free Hounsfield units (contrast-enhanced portal venous phase) per structure.
HU: dict[str, float] = {
    "air": -1000.0,
    "skin": 40.0,
    "fat": -100.0,
    "muscle": 50.0,
    "ribs": 400.0,
    "spine": 400.0,
    "liver": 110.0,
    "tumour": 60.0,
    "aorta": 180.0,
    "vena_cava": 150.0,
    "portal_vein": 170.0,
    "hepatic_veins": 160.0,
    "kidney_left": 160.0,
    "kidney_right": 160.0,
    "spleen": 120.0,
    "abdominal_cavity": 20.0,
    "intervertebral_disc": 90.0,
    "spinal_canal": 15.0,
}
#: HU of the one-voxel cortical shell of ribs and spine (their interior is ``HU[name]``).
CORTICAL_BONE_HU: float = 700.0
#: Structures that get a cortical shell.
BONE_STRUCTURES: tuple[str, ...] = ("ribs", "spine")

# --- body wall: elliptic cylinder along z, layers measured inwards along the semi-axes ---
BODY_SEMI_XY_MM: tuple[float, float] = (160.0, 115.0)
SKIN_MM: float = 2.5
FAT_MM: float = 20.0
MUSCLE_MM: float = 10.0

# --- spine: vertebral bodies (elliptic cylinders) separated by discs ---
VERTEBRA_CENTRE_XY_MM: tuple[float, float] = (0.0, 45.0)
VERTEBRA_SEMI_XY_MM: tuple[float, float] = (22.0, 17.0)
VERTEBRA_HEIGHT_MM: float = 27.0
DISC_HEIGHT_MM: float = 8.0
FIRST_VERTEBRA_Z_MM: float = -80.0
CANAL_CENTRE_XY_MM: tuple[float, float] = (0.0, 72.0)
CANAL_RADIUS_MM: float = 8.0
ARCH_RADIUS_MM: float = 14.0
SPINOUS_BOX_XY_MM: tuple[tuple[float, float], tuple[float, float]] = ((-4.0, 80.0), (4.0, 92.0))
TRANSVERSE_X_MM: tuple[float, float] = (12.0, 45.0)
TRANSVERSE_Y_MM: tuple[float, float] = (64.0, 74.0)
TRANSVERSE_HEIGHT_MM: float = 12.0
PARASPINAL_CENTRE_XY_MM: tuple[float, float] = (30.0, 80.0)
PARASPINAL_SEMI_XY_MM: tuple[float, float] = (24.0, 18.0)


@dataclass(frozen=True)
class RibSpec:
    """One pair of ribs: an arc around the body wall, sloping down anteriorly.

    Attributes
    ----------
    z_posterior_mm : float
        z of the posterior (vertebral) end.
    phi_end_rad : float
        Angle of the anterior end, measured from the posterior midline.
    drop_mm : float
        How far the anterior end lies below the posterior end.
    """

    z_posterior_mm: float
    phi_end_rad: float
    drop_mm: float


RIBS: tuple[RibSpec, ...] = (
    RibSpec(90.0, 2.35, 45.0),
    RibSpec(68.0, 2.25, 45.0),
    RibSpec(46.0, 2.0, 40.0),
    RibSpec(24.0, 1.5, 30.0),
)
RIB_PHI_START_RAD: float = 0.3
RIB_RADIUS_MM: float = 4.0
#: Depth of the rib centreline below the skin surface (mid muscle layer), mm.
RIB_DEPTH_MM: float = 27.5


@dataclass(frozen=True)
class EllipsoidSpec:
    """Ellipsoid: centre and semi-axes (mm), rotated by ``rotations`` applied in order."""

    centre_mm: Point
    semi_axes_mm: Point
    rotations: tuple[tuple[str, float], ...] = ()

    def rotation(self) -> np.ndarray:
        """(3, 3) matrix whose columns are the ellipsoid axes in LPS."""
        rot = np.eye(3)
        for axis, angle in self.rotations:
            rot = rotation_matrix(axis, angle) @ rot
        return rot


LIVER_LOBES: tuple[EllipsoidSpec, ...] = (
    EllipsoidSpec((-72.0, 0.0, 32.0), (65.0, 75.0, 58.0)),
    EllipsoidSpec((5.0, -45.0, 50.0), (55.0, 35.0, 35.0), (("z", -20.0),)),
)
SPLEEN = EllipsoidSpec((92.0, 35.0, 62.0), (18.0, 48.0, 30.0), (("z", 37.0),))
KIDNEYS: dict[str, EllipsoidSpec] = {
    "kidney_left": EllipsoidSpec(
        (75.0, 40.0, -5.0), (27.5, 22.5, 55.0), (("z", 30.0), ("y", -15.0))
    ),
    "kidney_right": EllipsoidSpec(
        (-75.0, 42.0, -30.0), (27.5, 22.5, 55.0), (("z", -30.0), ("y", 15.0))
    ),
}

TUMOUR_CENTRE_MM: Point = (-82.0, -32.0, 18.0)
TUMOUR_RADIUS_MM: float = 14.0


@dataclass(frozen=True)
class VesselSegmentSpec:
    """A tubular vessel segment: constant radius around a smooth curve.

    Attributes
    ----------
    name : str
        Segment name, unique within its vessel.
    radius_mm : float
        Tube radius in mm.
    control_points_mm : tuple of (x, y, z)
        Points the Catmull-Rom centreline passes through (LPS mm).
    """

    name: str
    radius_mm: float
    control_points_mm: tuple[Point, ...]


#: Vessels in painting order (later ones overwrite earlier ones where they touch).
VESSELS: dict[str, tuple[VesselSegmentSpec, ...]] = {
    "portal_vein": (
        VesselSegmentSpec(
            "main", 7.0, ((0.0, -12.0, -10.0), (-20.0, -10.0, 10.0), (-42.0, -5.0, 28.0))
        ),
        VesselSegmentSpec(
            "right_branch", 5.5, ((-42.0, -5.0, 28.0), (-65.0, 0.0, 34.0), (-95.0, 5.0, 40.0))
        ),
        VesselSegmentSpec(
            "left_branch", 5.0, ((-42.0, -5.0, 28.0), (-28.0, -22.0, 38.0), (-8.0, -42.0, 48.0))
        ),
    ),
    "hepatic_veins": (
        VesselSegmentSpec(
            "right", 5.0, ((-115.0, 15.0, 45.0), (-75.0, 12.0, 65.0), (-32.0, 5.0, 78.0))
        ),
        VesselSegmentSpec(
            "middle", 4.5, ((-60.0, -50.0, 40.0), (-48.0, -25.0, 65.0), (-32.0, 0.0, 80.0))
        ),
        VesselSegmentSpec(
            "left", 4.0, ((-5.0, -50.0, 55.0), (-15.0, -25.0, 72.0), (-30.0, 0.0, 82.0))
        ),
    ),
    "vena_cava": (
        VesselSegmentSpec(
            "inferior_vena_cava",
            11.0,
            (
                (-20.0, 18.0, -97.5),
                (-20.0, 15.0, -30.0),
                (-24.0, 12.0, 20.0),
                (-30.0, 6.0, 60.0),
                (-32.0, 2.0, 94.5),
            ),
        ),
    ),
    "aorta": (
        VesselSegmentSpec("abdominal_aorta", 12.0, ((15.0, 15.0, -97.5), (15.0, 15.0, 94.5))),
    ),
}
#: Spacing of the resampled vessel and rib centrelines, mm.
CENTRELINE_STEP_MM: float = 2.0
