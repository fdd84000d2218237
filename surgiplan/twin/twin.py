"""The patient twin: per structure a surface, a collision proxy and a physics mesh."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.collision import CollisionProxy
from surgiplan.twin.embedding import SurfaceEmbedding
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.properties import MassProperties
from surgiplan.twin.quality import MeshReport
from surgiplan.twin.tet_quality import TetQuality
from surgiplan.twin.tetmesh import TetMesh

SKIN_OPACITY = 0.3
"""Default opacity of the body outline in 3D."""


@dataclass
class DisplaySettings:
    """How a structure is shown; kept apart from its data."""

    colour: tuple[float, float, float]
    opacity: float = 1.0
    visible: bool = True

    @classmethod
    def default_for(cls, info: StructureInfo) -> DisplaySettings:
        """First display of a structure: its table colour, opaque, except the body outline
        (tissue ``skin``), drawn see-through so the organs inside show in 3D."""
        opacity = SKIN_OPACITY if info.tissue == "skin" else 1.0
        return cls(colour=tuple(float(c) for c in info.colour), opacity=opacity)


@dataclass(frozen=True)
class PhysicsModel:
    """A structure's tetrahedral mesh, its quality and the embedding of its render surface."""

    tet_mesh: TetMesh
    quality: TetQuality
    embedding: SurfaceEmbedding


@dataclass
class StructureModel:
    """One structure of the twin, in patient LPS millimetres.

    Attributes
    ----------
    info : StructureInfo
        Name, label, tissue, critical flag.
    region : Region
        Its voxels (cropped), the source of every representation below.
    surface : SurfaceMesh
        Smooth watertight render surface.
    report : MeshReport
        Surface checks after repair.
    properties : MassProperties
        Mesh volume (mL), area (cm2), centroid.
    voxel_volume_ml : float
        Voxel-count volume, for comparison with the mesh volume.
    collision : CollisionProxy
        Decimated surface with its BVH built once.
    physics : PhysicsModel or None
        Tetrahedral mesh for deformable tissues; ``None`` for rigid ones (bone) or where the
        structure is too small to mesh (``notes`` says why).
    """

    info: StructureInfo
    region: Region
    surface: SurfaceMesh
    report: MeshReport
    properties: MassProperties
    voxel_volume_ml: float
    collision: CollisionProxy
    physics: PhysicsModel | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True)
class StructureSummary:
    """The figures of one structure, as the CLI contract prints them."""

    name: str
    voxels: int
    volume_ml: float
    surface_area_cm2: float
    triangles: int
    watertight: bool
    tet_nodes: int
    tet_elements: int

    def to_json(self) -> dict:
        return {
            "name": self.name, "voxels": self.voxels, "volume_ml": round(self.volume_ml, 3),
            "surface_area_cm2": round(self.surface_area_cm2, 3), "triangles": self.triangles,
            "watertight": self.watertight, "tet_nodes": self.tet_nodes,
            "tet_elements": self.tet_elements,
        }


@dataclass
class PatientTwin:
    """The digital twin of one patient: a label map and its structures' models.

    Display settings (colour, opacity, visibility) are kept in ``display``, apart from data.
    """

    labelmap: LabelMap
    structures: dict[str, StructureModel] = field(default_factory=dict)
    display: dict[str, DisplaySettings] = field(default_factory=dict)

    @property
    def affine_lps(self) -> np.ndarray:
        return self.labelmap.affine_lps

    def structure(self, name: str) -> StructureModel:
        """The structure called ``name``; :class:`InputError` naming the known ones if absent."""
        if name not in self.structures:
            from surgiplan.errors import InputError

            known = ", ".join(self.structures) or "none"
            raise InputError(f"the twin has no structure {name!r} (structures: {known})")
        return self.structures[name]

    def summaries(self) -> list[StructureSummary]:
        """One :class:`StructureSummary` per structure, in table order."""
        out = []
        for model in self.structures.values():
            tets = model.physics.tet_mesh if model.physics else None
            out.append(StructureSummary(
                name=model.name, voxels=model.region.voxel_count,
                volume_ml=model.properties.volume_ml,
                surface_area_cm2=model.properties.surface_area_cm2,
                triangles=model.surface.n_triangles, watertight=model.report.watertight,
                tet_nodes=0 if tets is None else len(tets.nodes_lps_mm),
                tet_elements=0 if tets is None else len(tets.tets),
            ))
        return out
