"""The imported scan: voxels on a regular grid in patient LPS millimetres."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.imaging.geometry import SeriesWarning

IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "OtherPatientIDs",
    "AccessionNumber",
    "InstitutionName",
    "ReferringPhysicianName",
    "StudyDate",
    "StudyID",
)


@dataclass(frozen=True, repr=False)
class PatientIdentity:
    """Identifying attributes, kept apart from everything else.

    Never printed or logged: ``repr`` and ``str`` hide the values. Read a field explicitly
    (``identity.values["PatientName"]``) only where the user asked for identified output.
    """

    values: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PatientIdentity(<{len(self.values)} identifying fields hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class Volume:
    """A scan resampled (where needed) onto one regular grid.

    Attributes
    ----------
    voxels : (slices, rows, columns) ndarray
        Modality values (HU for CT), int16 when exact, else float32; indexed ``[k, j, i]``.
    affine_lps : (4, 4) float ndarray
        Maps voxel ``(i, j, k, 1)`` to patient LPS millimetres.
    modality : str
        DICOM modality, e.g. ``"CT"`` or ``"MR"``.
    metadata : dict
        Non-identifying description (series UID, description, manufacturer...).
    identity : PatientIdentity
        Identifying attributes, hidden from printing.
    warnings : tuple of SeriesWarning
        What the import noticed and corrected.
    """

    voxels: np.ndarray
    affine_lps: np.ndarray
    modality: str
    metadata: dict[str, str] = field(default_factory=dict)
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    warnings: tuple[SeriesWarning, ...] = ()

    def __post_init__(self) -> None:
        if self.voxels.ndim != 3:
            raise ValueError(f"voxels must be 3-D (slices, rows, columns), got {self.voxels.shape}")
        if self.affine_lps.shape != (4, 4):
            raise ValueError("affine_lps must be 4x4")

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, spacing_mm={tuple(round(s, 4) for s in self.spacing_mm)}, "
            f"modality={self.modality!r}, dtype={self.voxels.dtype})"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        return tuple(int(v) for v in self.voxels.shape)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """(column, row, slice) spacing in millimetres: lengths of the affine's axes."""
        return tuple(float(v) for v in np.linalg.norm(self.affine_lps[:3, :3], axis=0))

    @property
    def origin_lps_mm(self) -> np.ndarray:
        """(3,) LPS position of voxel (0, 0, 0)."""
        return self.affine_lps[:3, 3].copy()

    @property
    def direction(self) -> np.ndarray:
        """(3, 3) unit direction cosines; column ``n`` is the LPS direction of voxel axis n."""
        return self.affine_lps[:3, :3] / np.asarray(self.spacing_mm)[None, :]

    def ijk_to_lps(self, ijk: np.ndarray) -> np.ndarray:
        """Voxel indices (n, 3) as (i, j, k) to LPS millimetres (n, 3)."""
        ijk = np.atleast_2d(np.asarray(ijk, dtype=float))
        return ijk @ self.affine_lps[:3, :3].T + self.affine_lps[:3, 3]

    def lps_to_ijk(self, points_lps_mm: np.ndarray) -> np.ndarray:
        """LPS millimetres (n, 3) to continuous voxel indices (n, 3) as (i, j, k)."""
        points = np.atleast_2d(np.asarray(points_lps_mm, dtype=float))
        inverse = np.linalg.inv(self.affine_lps)
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def value_at(self, points_lps_mm: np.ndarray) -> np.ndarray:
        """Nearest-voxel values at LPS points (n, 3); NaN outside the grid."""
        ijk = np.rint(self.lps_to_ijk(points_lps_mm)).astype(int)
        shape_ijk = np.array(self.shape[::-1])
        inside = np.all((ijk >= 0) & (ijk < shape_ijk), axis=1)
        out = np.full(len(ijk), np.nan)
        i, j, k = ijk[inside].T
        out[inside] = self.voxels[k, j, i]
        return out

    @property
    def nbytes(self) -> int:
        return int(self.voxels.nbytes)
