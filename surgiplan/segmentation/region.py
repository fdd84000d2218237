"""A binary region stored inside its bounding box (memory-aware masks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """A boolean mask cropped to its bounding box on a volume grid.

    Attributes
    ----------
    mask : (nk, nj, ni) bool ndarray
        The region inside the box, indexed ``[k, j, i]`` like the volume.
    offset_kji : (3,) int tuple
        Index of the box's first voxel in the full grid.
    grid_shape : (3,) int tuple
        Shape (slices, rows, columns) of the full grid.
    """

    mask: np.ndarray
    offset_kji: tuple[int, int, int]
    grid_shape: tuple[int, int, int]

    @classmethod
    def from_full_mask(cls, mask: np.ndarray) -> Region:
        """Crop a full-grid boolean mask to its bounding box (empty masks give a 0-size box)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return cls(np.zeros((0, 0, 0), dtype=bool), (0, 0, 0), tuple(mask.shape))
        bounds = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
                  for axis in range(3)]
        lo = tuple(int(b[0]) for b in bounds)
        hi = tuple(int(b[-1]) + 1 for b in bounds)
        crop = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].copy()
        return cls(crop, lo, tuple(int(v) for v in mask.shape))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Index of the box in the full grid."""
        return tuple(slice(o, o + n) for o, n in zip(self.offset_kji, self.mask.shape,
                                                     strict=True))

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def is_empty(self) -> bool:
        return self.voxel_count == 0

    def to_full_mask(self) -> np.ndarray:
        """The region on the full grid (allocates a full-size boolean array)."""
        full = np.zeros(self.grid_shape, dtype=bool)
        if self.mask.size:
            full[self.slices] = self.mask
        return full

    def padded(self, margin: int) -> Region:
        """The same region in a box grown by ``margin`` voxels (clipped to the grid)."""
        lo = [max(0, o - margin) for o in self.offset_kji]
        hi = [min(g, o + n + margin) for o, n, g in zip(self.offset_kji, self.mask.shape,
                                                         self.grid_shape, strict=True)]
        out = np.zeros([h - low for low, h in zip(lo, hi, strict=True)], dtype=bool)
        inner = tuple(slice(o - low, o - low + n) for o, low, n in zip(self.offset_kji, lo,
                                                                       self.mask.shape,
                                                                       strict=True))
        if self.mask.size:
            out[inner] = self.mask
        return Region(out, tuple(lo), self.grid_shape)

    def tight(self) -> Region:
        """The same region in its tightest box."""
        if self.is_empty:
            return Region(np.zeros((0, 0, 0), dtype=bool), (0, 0, 0), self.grid_shape)
        inner = Region.from_full_mask(self.mask)
        offset = tuple(a + b for a, b in zip(self.offset_kji, inner.offset_kji, strict=True))
        return Region(inner.mask, offset, self.grid_shape)
