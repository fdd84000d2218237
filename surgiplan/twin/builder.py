"""Build a :class:`PatientTwin` from segmented regions: surfaces, checks, proxies, tet meshes."""

from __future__ import annotations

from dataclasses import dataclass, field

from surgiplan.errors import InputError
from surgiplan.progress import ProgressCallback, report
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.collision import CollisionProxy
from surgiplan.twin.embedding import embed_surface
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.properties import mass_properties
from surgiplan.twin.quality import check_mesh
from surgiplan.twin.repair import repair_mesh
from surgiplan.twin.surface import SurfaceOptions, extract_surface
from surgiplan.twin.tet_quality import tet_quality
from surgiplan.twin.tetmesh import TetMesh, build_tet_mesh
from surgiplan.twin.tissues import tissue
from surgiplan.twin.twin import DisplaySettings, PatientTwin, PhysicsModel, StructureModel


@dataclass(frozen=True)
class TwinOptions:
    """Parameters of every step (recorded as provenance by later issues).

    Attributes
    ----------
    surface : SurfaceOptions
        Surface extraction, smoothing and triangle budget.
    tet_nodes : (int, int)
        Wanted node-count range of each physics mesh.
    collision_triangles : int
        Triangle budget of each collision proxy.
    """

    surface: SurfaceOptions = field(default_factory=SurfaceOptions)
    tet_nodes: tuple[int, int] = (2000, 5000)
    collision_triangles: int = 20_000


def _physics(region: Region, info: StructureInfo, affine, surface, options: TwinOptions,
             notes: list[str]) -> PhysicsModel | None:
    if not tissue(info.tissue).deformable:
        return None
    try:
        tets = build_tet_mesh(region, affine, tissue=info.tissue, target_nodes=options.tet_nodes)
    except InputError as exc:
        notes.append(f"no physics mesh: {exc}")
        return None
    return PhysicsModel(tets, tet_quality(tets), embed_surface(tets, surface.vertices_lps_mm))


def restore_structure(region: Region, info: StructureInfo, labelmap: LabelMap,
                      surface: SurfaceMesh, tet_mesh: TetMesh | None,
                      options: TwinOptions = TwinOptions()) -> StructureModel:
    """A structure from stored parts (a saved case): only the cheap derived parts are rebuilt.

    The surface and tet mesh are kept exactly as given; the mesh report, mass properties,
    collision proxy (BVH) and the embedding are recomputed from them.
    """
    physics = None
    if tet_mesh is not None:
        physics = PhysicsModel(tet_mesh, tet_quality(tet_mesh),
                               embed_surface(tet_mesh, surface.vertices_lps_mm))
    return StructureModel(
        info=info, region=region, surface=surface, report=check_mesh(surface),
        properties=mass_properties(surface),
        voxel_volume_ml=region.voxel_count * labelmap.voxel_volume_ml,
        collision=CollisionProxy.from_mesh(surface, max_triangles=options.collision_triangles),
        physics=physics,
    )


def build_structure(region: Region, info: StructureInfo, labelmap: LabelMap,
                    options: TwinOptions = TwinOptions()) -> StructureModel:
    """Every representation of one structure from its voxels.

    Raises
    ------
    InputError
        When the region is empty.
    """
    if region.is_empty:
        raise InputError(f"structure {info.name!r} is empty: nothing to build")
    affine = labelmap.affine_lps
    repaired = repair_mesh(extract_surface(region, affine, options.surface))
    surface = repaired.mesh
    notes = [f"surface repair: {action}" for action in repaired.actions]
    return StructureModel(
        info=info,
        region=region,
        surface=surface,
        report=repaired.report_after,
        properties=mass_properties(surface),
        voxel_volume_ml=region.voxel_count * labelmap.voxel_volume_ml,
        collision=CollisionProxy.from_mesh(surface, max_triangles=options.collision_triangles),
        physics=_physics(region, info, affine, surface, options, notes),
        notes=notes,
    )


def build_twin(labelmap: LabelMap, *, regions: dict[str, Region] | None = None,
               options: TwinOptions = TwinOptions(),
               progress: ProgressCallback | None = None) -> PatientTwin:
    """Build the twin of every structure in ``labelmap``.

    Parameters
    ----------
    labelmap : LabelMap
        Structures and their (non-overlapping) voxels.
    regions : dict, optional
        Per-structure regions that may overlap (a body outline containing organs); a
        structure's surface is built from its own region when given, else from the label map.
    options : TwinOptions
        Step parameters.
    progress : callable, optional
        ``(done, total, label) -> bool | None``; return ``False`` to cancel.

    Returns
    -------
    PatientTwin
        Structures in label-map order; empty structures are left out.
    """
    regions = regions or {}
    twin = PatientTwin(labelmap)
    total = len(labelmap.structures)
    for done, info in enumerate(labelmap.structures):
        report(progress, done, total, f"Building {info.name}")
        region = regions.get(info.name) or labelmap.region(info.name)
        if region.is_empty:
            continue
        twin.structures[info.name] = build_structure(region, info, labelmap, options)
        twin.display[info.name] = DisplaySettings.default_for(info)
    report(progress, total, total, "Twin built")
    return twin
