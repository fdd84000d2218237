"""Element quality of tetrahedral physics meshes (radius ratio, dihedral angles, aspect)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from surgiplan.errors import InputError
from surgiplan.twin.tetmesh import TET_FACES, TetMesh, signed_volumes


@dataclass(frozen=True)
class TetQuality:
    """Element-quality report of a tet mesh.

    Attributes
    ----------
    n_nodes, n_tets : int
        Mesh size.
    volume_ml : float
        Sum of the tet volumes, mL.
    source_volume_ml : float
        Volume of the voxel region the mesh was built from, mL (NaN if unknown).
    volume_error : float
        ``volume_ml / source_volume_ml - 1`` (NaN if unknown).
    radius_ratio_min, radius_ratio_mean, radius_ratio_max : float
        Normalised radius ratio ``3 r_in / r_circ`` (1 for a regular tet, 0 for a flat one).
    min_dihedral_deg, max_dihedral_deg : float
        Extreme dihedral angles over all tets, degrees.
    max_aspect_ratio : float
        Largest ``l_max / (2 sqrt(6) r_in)`` (1 for a regular tet).
    n_inverted : int
        Tets with zero or negative signed volume (0 for a valid mesh).
    n_poor : int
        Tets with radius ratio below ``poor_radius_ratio``.
    poor_radius_ratio : float
        The threshold used for ``n_poor``.
    """

    n_nodes: int
    n_tets: int
    volume_ml: float
    source_volume_ml: float
    volume_error: float
    radius_ratio_min: float
    radius_ratio_mean: float
    radius_ratio_max: float
    min_dihedral_deg: float
    max_dihedral_deg: float
    max_aspect_ratio: float
    n_inverted: int
    n_poor: int
    poor_radius_ratio: float


def tet_quality(mesh: TetMesh, *, poor_radius_ratio: float = 0.2) -> TetQuality:
    """Element-quality report.

    Parameters
    ----------
    mesh : TetMesh
        The mesh to check.
    poor_radius_ratio : float
        Tets with a normalised radius ratio below this count as poor.

    Returns
    -------
    TetQuality
        Sizes, volume, radius ratio, dihedral angles, aspect ratio, inverted and poor counts.
    """
    if mesh.n_tets == 0:
        raise InputError("the tet mesh has no tets: rebuild it from a non-empty region")
    p = mesh.nodes_lps_mm[mesh.tets]
    volume = signed_volumes(mesh.nodes_lps_mm, mesh.tets)
    normals = np.cross(p[:, TET_FACES[:, 1]] - p[:, TET_FACES[:, 0]],
                       p[:, TET_FACES[:, 2]] - p[:, TET_FACES[:, 0]])
    areas = 0.5 * np.linalg.norm(normals, axis=2)
    r_in = 3 * np.abs(volume) / areas.sum(axis=1)
    edges = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
    l_max = np.linalg.norm(p[:, edges[:, 1]] - p[:, edges[:, 0]], axis=2).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r_in > 0, 3 * r_in / _circumradius(p), 0.0)
        aspect = np.where(r_in > 0, l_max / (2 * np.sqrt(6) * r_in), np.inf)
    dihedral = _dihedral_deg(p, normals)
    total = float(volume.sum()) / 1000.0
    return TetQuality(
        n_nodes=mesh.n_nodes, n_tets=mesh.n_tets, volume_ml=total,
        source_volume_ml=mesh.source_volume_ml, volume_error=total / mesh.source_volume_ml - 1,
        radius_ratio_min=float(ratio.min()), radius_ratio_mean=float(ratio.mean()),
        radius_ratio_max=float(ratio.max()), min_dihedral_deg=float(np.nanmin(dihedral)),
        max_dihedral_deg=float(np.nanmax(dihedral)), max_aspect_ratio=float(aspect.max()),
        n_inverted=int(np.count_nonzero(volume <= 0)),
        n_poor=int(np.count_nonzero(ratio < poor_radius_ratio)),
        poor_radius_ratio=float(poor_radius_ratio))


def _circumradius(p: np.ndarray) -> np.ndarray:
    """(m,) circumradii of tets given as corner positions ``(m, 4, 3)``."""
    u, v, w = (p[:, i] - p[:, 0] for i in (1, 2, 3))
    vw, wu, uv = np.cross(v, w), np.cross(w, u), np.cross(u, v)
    det = np.einsum("ij,ij->i", u, vw)
    sq = [np.einsum("ij,ij->i", e, e)[:, None] for e in (u, v, w)]
    centre = (sq[0] * vw + sq[1] * wu + sq[2] * uv) / (2 * det[:, None])
    return np.linalg.norm(centre, axis=1)


def _dihedral_deg(p: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(m, 6) interior dihedral angles in degrees, from the face normals ``(m, 4, 3)``."""
    outward = normals * np.sign(np.einsum(
        "mfj,mfj->mf", normals, p[:, TET_FACES[:, 0]] - p))[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = outward / np.linalg.norm(outward, axis=2, keepdims=True)
    pairs = np.array(list(itertools.combinations(range(4), 2)))
    cosine = -np.einsum("mpj,mpj->mp", unit[:, pairs[:, 0]], unit[:, pairs[:, 1]])
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
