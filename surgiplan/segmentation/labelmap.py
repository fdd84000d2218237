"""Label maps: integer voxels on the volume grid plus a table of named structures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from surgiplan.errors import InputError
from surgiplan.segmentation.region import Region


@dataclass(frozen=True)
class StructureInfo:
    """What a label means.

    Attributes
    ----------
    label : int
        Voxel value (> 0) of the structure in the label map.
    name : str
        Anatomical or preset name, e.g. ``"liver"``, ``"portal_vein"``, ``"skin"``.
    colour : tuple of float
        Display RGB in 0..1 (a default; display settings live apart from the data).
    tissue : str
        Tissue type, e.g. ``"liver"``, ``"vessel"``, ``"bone"``, ``"soft_tissue"``.
    critical : bool
        Whether an instrument must keep away from it (vessels, nerves...).
    """

    label: int
    name: str
    colour: tuple[float, float, float] = (0.8, 0.8, 0.8)
    tissue: str = "soft_tissue"
    critical: bool = False


@dataclass
class LabelMap:
    """Integer voxels on a volume grid and the structures they name.

    Attributes
    ----------
    labels : (slices, rows, columns) uint16 ndarray
        0 is background; indexed ``[k, j, i]`` like :class:`surgiplan.imaging.Volume`.
    affine_lps : (4, 4) float ndarray
        Voxel (i, j, k, 1) to patient LPS millimetres, the volume's affine.
    structures : list of StructureInfo
        One entry per label value in use.
    """

    labels: np.ndarray
    affine_lps: np.ndarray
    structures: list[StructureInfo] = field(default_factory=list)

    @classmethod
    def empty_like(cls, shape: tuple[int, int, int], affine_lps: np.ndarray) -> LabelMap:
        """An empty label map on a grid of ``shape`` (slices, rows, columns)."""
        return cls(np.zeros(shape, dtype=np.uint16), np.asarray(affine_lps, dtype=float).copy())

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.labels.shape)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres."""
        return float(abs(np.linalg.det(self.affine_lps[:3, :3]))) / 1000.0

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]

    def structure(self, name: str) -> StructureInfo:
        """The structure called ``name``; :class:`InputError` naming the known ones if absent."""
        for info in self.structures:
            if info.name == name:
                return info
        known = ", ".join(self.names) or "none"
        raise InputError(f"no structure named {name!r} (structures: {known})")

    def next_label(self) -> int:
        return max((s.label for s in self.structures), default=0) + 1

    def region(self, name: str) -> Region:
        """The voxels of structure ``name`` as a cropped :class:`Region`."""
        label = self.structure(name).label
        return Region.from_full_mask(self.labels == label)

    def voxel_count(self, name: str) -> int:
        return int(np.count_nonzero(self.labels == self.structure(name).label))

    def volume_ml(self, name: str) -> float:
        """Voxel-count volume of structure ``name`` in millilitres."""
        return self.voxel_count(name) * self.voxel_volume_ml

    def add(self, region: Region, info: StructureInfo, *, overwrite: bool = True) -> StructureInfo:
        """Paint ``region`` with a new structure (label chosen when ``info.label`` is 0).

        ``overwrite`` decides whether voxels already labelled take the new label.
        Raises :class:`InputError` if the name exists or the region lies on another grid.
        """
        if info.name in self.names:
            raise InputError(f"a structure named {info.name!r} already exists: choose another")
        if tuple(region.grid_shape) != self.shape:
            raise InputError("the region was made on another grid than this label map")
        if info.label <= 0:
            info = replace(info, label=self.next_label())
        if region.mask.size:
            box = self.labels[region.slices]
            paint = region.mask if overwrite else region.mask & (box == 0)
            box[paint] = info.label
        self.structures.append(info)
        return info

    def update(self, name: str, **changes) -> StructureInfo:
        """Edit a structure's table entry (name, colour, tissue, critical)."""
        if "label" in changes:
            raise InputError("the label value of a structure cannot be edited")
        old = self.structure(name)
        new = replace(old, **changes)
        if new.name != name and new.name in self.names:
            raise InputError(f"a structure named {new.name!r} already exists")
        self.structures[self.structures.index(old)] = new
        return new

    def remove(self, name: str) -> None:
        """Delete a structure and clear its voxels."""
        info = self.structure(name)
        self.labels[self.labels == info.label] = 0
        self.structures.remove(info)
