"""Voxel grid of the synthetic phantom in DICOM patient coordinates (LPS, millimetres).

Conventions shared by every module of :mod:`surgiplan.phantom` (and relied on by the
rest of SurgiPlan):

* Volumes in memory are indexed ``[k, j, i]`` = ``[slice, row, column]``.
* Slices are axial with ``ImageOrientationPatient = [1, 0, 0, 0, 1, 0]``: column index
  ``i`` runs towards patient Left (+x), row index ``j`` towards Posterior (+y) and slice
  index ``k`` towards Superior (+z).
* The centre of voxel ``(i, j, k)`` is ``origin + (i * dx, j * dy, k * dz)`` in LPS mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Field of view (x, y, z) in mm covered by every phantom grid, whatever its shape.
FOV_MM: tuple[float, float, float] = (384.0, 384.0, 192.0)
#: LPS z (mm) of the inferior face of the first slab; the FOV spans z in [-97.5, 94.5].
Z_BOTTOM_MM: float = -97.5
#: Default grid shape ``(n_slices, n_rows, n_columns)``: 1.5 x 1.5 x 3.0 mm voxels.
DEFAULT_SHAPE_KJI: tuple[int, int, int] = (64, 256, 256)


@dataclass(frozen=True)
class PhantomGrid:
    """Regular axis-aligned voxel grid in patient LPS millimetres.

    Parameters
    ----------
    shape_kji : tuple of int
        ``(n_slices, n_rows, n_columns)``.
    spacing_mm : tuple of float
        Voxel size ``(dx, dy, dz)`` in mm (column, row, slice spacing).
    origin_lps_mm : tuple of float
        LPS position (mm) of the centre of voxel ``(i, j, k) = (0, 0, 0)``.
    """

    shape_kji: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_lps_mm: tuple[float, float, float]

    @classmethod
    def from_shape(cls, shape_kji: tuple[int, int, int] = DEFAULT_SHAPE_KJI) -> PhantomGrid:
        """Grid of the given shape covering the fixed phantom field of view :data:`FOV_MM`.

        The in-plane image centre lies at x = y = 0 and the slabs tile
        z in [-97.5, 94.5] mm, so coarser grids sample the same anatomy.

        Parameters
        ----------
        shape_kji : tuple of int
            ``(n_slices, n_rows, n_columns)``; the default gives 1.5 x 1.5 x 3.0 mm voxels.

        Returns
        -------
        PhantomGrid
        """
        nk, nj, ni = (int(n) for n in shape_kji)
        dx, dy, dz = FOV_MM[0] / ni, FOV_MM[1] / nj, FOV_MM[2] / nk
        origin = (-(ni - 1) * dx / 2.0, -(nj - 1) * dy / 2.0, Z_BOTTOM_MM + dz / 2.0)
        return cls((nk, nj, ni), (dx, dy, dz), origin)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm^3."""
        dx, dy, dz = self.spacing_mm
        return dx * dy * dz

    @property
    def affine_lps(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS mm ``(x, y, z, 1)``."""
        affine = np.diag([*self.spacing_mm, 1.0])
        affine[:3, 3] = self.origin_lps_mm
        return affine

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates along each axis.

        Returns
        -------
        x, y, z : numpy.ndarray
            float64 arrays of shapes ``(ni,)``, ``(nj,)`` and ``(nk,)`` in LPS mm.
        """
        nk, nj, ni = self.shape_kji
        counts = (ni, nj, nk)
        return tuple(  # type: ignore[return-value]
            self.origin_lps_mm[a] + self.spacing_mm[a] * np.arange(counts[a]) for a in range(3)
        )

    def index_to_lps(self, kji: np.ndarray) -> np.ndarray:
        """Convert voxel indices ``[..., (k, j, i)]`` to LPS mm ``[..., (x, y, z)]``."""
        ijk = np.asarray(kji, dtype=float)[..., ::-1]
        return np.asarray(self.origin_lps_mm) + ijk * np.asarray(self.spacing_mm)

    def lps_to_index(self, lps: np.ndarray) -> np.ndarray:
        """Convert LPS mm ``[..., (x, y, z)]`` to fractional voxel indices ``[..., (k, j, i)]``."""
        ijk = (np.asarray(lps, dtype=float) - self.origin_lps_mm) / np.asarray(self.spacing_mm)
        return ijk[..., ::-1]

    def box_slices(self, lo_lps: np.ndarray, hi_lps: np.ndarray) -> tuple[slice, slice, slice]:
        """Index slices ``(k, j, i)`` of the voxels whose centres may lie in an LPS box.

        Parameters
        ----------
        lo_lps, hi_lps : array_like, shape (3,)
            Opposite corners (x, y, z) of the box in LPS mm.

        Returns
        -------
        tuple of slice
            Possibly empty slices, clipped to the grid.
        """
        lo = np.floor(self.lps_to_index(np.minimum(lo_lps, hi_lps))).astype(int)
        hi = np.ceil(self.lps_to_index(np.maximum(lo_lps, hi_lps))).astype(int) + 1
        return tuple(  # type: ignore[return-value]
            slice(max(int(lo[a]), 0), max(min(int(hi[a]), self.shape_kji[a]), 0)) for a in range(3)
        )

    def coords(
        self, slices: tuple[slice, slice, slice] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable voxel-centre coordinates of a sub-block of the grid.

        Parameters
        ----------
        slices : tuple of slice, optional
            ``(k, j, i)`` slices as returned by :meth:`box_slices`; whole grid by default.

        Returns
        -------
        x, y, z : numpy.ndarray
            LPS mm, shapes ``(1, 1, ni')``, ``(1, nj', 1)`` and ``(nk', 1, 1)``.
        """
        if slices is None:
            slices = (slice(None), slice(None), slice(None))
        x, y, z = self.axes()
        return (
            x[slices[2]][None, None, :],
            y[slices[1]][None, :, None],
            z[slices[0]][:, None, None],
        )
