"""Physics tetrahedral meshes built directly from a structure's voxels.

Construction (why not tetgen or pytetwild): tetgen is AGPL, which rules it out of the product,
and pytetwild takes about 8 s for 5k nodes. A structure's voxels already are a volume
decomposition, so the mesh is built from them directly:

1. The region is resampled onto a grid of cells that are cubes in millimetres (anisotropic voxels
   still give well-shaped tets). A cell's inside fraction is its exact overlap with the voxels,
   read from a summed-volume table by multilinear interpolation. Cells at least half inside are
   kept, so the mesh volume follows the region volume.
2. The cell size is searched (secant steps, then log-scale bisection) until the node count lands
   in the wanted range.
3. Only the largest face-connected (6-connected) group of cells is kept: cells touching by an edge
   or a corner only would give tets joined by an edge or a vertex (singular stiffness matrix).
4. Each cell is split into the 6 Kuhn (Freudenthal) tets around its main diagonal; the same split
   in every cell is conforming (neighbours share triangle faces and nodes). Every tet has the
   same shape: normalised radius ratio 0.717, dihedral angles 45-90 degrees.
5. Nodes are mapped to LPS mm through the affine; tets are reordered to positive signed volume in
   LPS (mirroring affines included); :func:`largest_face_connected` is applied as a guarantee.

The mesh is a staircase at the cell size; the smooth render surface is tied to it by barycentric
embedding (:mod:`surgiplan.twin.embedding`). Boundary nodes are not moved onto the smooth surface.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from surgiplan.errors import InputError
from surgiplan.segmentation.region import Region

MIN_NODES = 125
"""Fewest nodes of an acceptable mesh (a block of 4 x 4 x 4 cells) when the range cannot be met."""

_CORNERS = np.array(list(itertools.product((0, 1), repeat=3)), dtype=np.int64)
_KUHN = np.array([[(0, 0, 0), np.eye(3, dtype=int)[p[0]], np.eye(3, dtype=int)[p[0]]
                   + np.eye(3, dtype=int)[p[1]], (1, 1, 1)]
                  for p in itertools.permutations(range(3))], dtype=np.int64)
"""(6, 4, 3) corner offsets (k, j, i) of the Kuhn tets of a unit cell."""

TET_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
"""Local vertices of the face opposite each tet vertex."""


@dataclass(frozen=True, eq=False)
class TetMesh:
    """A tetrahedral physics mesh in patient LPS millimetres.

    Attributes
    ----------
    nodes_lps_mm : (n, 3) float64 ndarray
        Node positions, LPS mm.
    tets : (m, 4) int64 ndarray
        Node indices of each tet, ordered so every signed volume is positive.
    tissue : str
        Tissue of the structure the mesh was built from (``"merged"`` or similar for merged meshes).
    tet_tissue : (m,) int32 ndarray, optional
        Per-tet index into ``tissue_names``; all zeros by default.
    tissue_names : tuple of str, optional
        Tissue table of ``tet_tissue``; ``(tissue,)`` by default.
    cell_size_mm : float
        Edge of the grid cells the mesh was cut from (NaN if unknown).
    source_volume_ml : float
        Volume of the voxel region it approximates, mL (NaN if unknown).
    """

    nodes_lps_mm: np.ndarray
    tets: np.ndarray
    tissue: str
    tet_tissue: np.ndarray | None = None
    tissue_names: tuple[str, ...] = ()
    cell_size_mm: float = float("nan")
    source_volume_ml: float = float("nan")

    def __post_init__(self) -> None:
        nodes = np.ascontiguousarray(self.nodes_lps_mm, dtype=np.float64).reshape(-1, 3)
        tets = np.ascontiguousarray(self.tets, dtype=np.int64).reshape(-1, 4)
        if tets.size and (tets.min() < 0 or tets.max() >= len(nodes)):
            raise ValueError("tets refer to nodes that do not exist")
        codes = np.zeros(len(tets), np.int32) if self.tet_tissue is None else self.tet_tissue
        codes = np.ascontiguousarray(codes, dtype=np.int32).reshape(-1)
        names = tuple(self.tissue_names) or (self.tissue,)
        if len(codes) != len(tets) or (codes.size and not 0 <= codes.min() <= codes.max()
                                       < len(names)):
            raise ValueError("tet_tissue must hold one valid tissue_names index per tet")
        for name, value in (("nodes_lps_mm", nodes), ("tets", tets), ("tet_tissue", codes),
                            ("tissue_names", names)):
            object.__setattr__(self, name, value)

    @property
    def n_nodes(self) -> int:
        return int(len(self.nodes_lps_mm))

    @property
    def n_tets(self) -> int:
        return int(len(self.tets))

    @property
    def tet_tissue_names(self) -> np.ndarray:
        """(m,) array of each tet's tissue name."""
        return np.asarray(self.tissue_names, dtype=object)[self.tet_tissue]

    def volumes_mm3(self) -> np.ndarray:
        """(m,) signed tet volumes in mm^3 (positive for a valid mesh)."""
        return signed_volumes(self.nodes_lps_mm, self.tets)


@dataclass(frozen=True)
class _Grid:
    """Cells kept at one cell size; positions are in summed-table coordinates (k, j, i)."""

    cells: np.ndarray
    origin: np.ndarray
    step: np.ndarray
    cell_size_mm: float
    n_nodes: int


def signed_volumes(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """(m,) signed volumes of tets ``(m, 4)`` over nodes ``(n, 3)``, in the nodes' unit cubed."""
    p = nodes[tets]
    u, v, w = (p[:, i] - p[:, 0] for i in (1, 2, 3))
    return np.einsum("ij,ij->i", u, np.cross(v, w)) / 6.0


def largest_face_connected(tets: np.ndarray) -> np.ndarray:
    """Indices of the tets of the largest face-connected component.

    Two tets are connected when they share a triangle face; sharing a vertex or an edge only is
    not enough (such a joint makes the stiffness matrix singular).

    Parameters
    ----------
    tets : (m, 4) int ndarray
        Node indices of each tet.

    Returns
    -------
    (k,) int64 ndarray
        Sorted indices into ``tets`` (ties: the component holding the lowest tet index).
    """
    tets = np.asarray(tets, dtype=np.int64).reshape(-1, 4)
    m = len(tets)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    keys = _face_keys(tets)
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    a, b = order[:-1][same] // 4, order[1:][same] // 4
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    _, labels = connected_components(graph, directed=False)
    best = np.argmax(np.bincount(labels))
    return np.flatnonzero(labels == best).astype(np.int64)


def _face_keys(tets: np.ndarray) -> np.ndarray:
    """(4 m,) one integer per tet face (its sorted nodes); face f of tet t is at 4 t + f."""
    faces = np.sort(tets[:, TET_FACES].reshape(-1, 3), axis=1)
    n = int(faces.max()) + 1
    if n < 2**21:
        return (faces[:, 0] * n + faces[:, 1]) * n + faces[:, 2]
    return np.unique(faces, axis=0, return_inverse=True)[1].reshape(-1)


def build_tet_mesh(region: Region, affine_lps: np.ndarray, *, tissue: str,
                   target_nodes: tuple[int, int] = (2000, 5000)) -> TetMesh:
    """Tetrahedral physics mesh of a voxel region (direct voxel-to-tet construction).

    Parameters
    ----------
    region : Region
        The structure's voxels.
    affine_lps : (4, 4) float ndarray
        Maps voxel ``(i, j, k, 1)`` to LPS mm (rotated, anisotropic or mirroring affines work).
    tissue : str
        Tissue name tagged on every tet.
    target_nodes : (int, int)
        Wanted node-count range. The cell size is searched to land in it; if the geometry makes
        the count jump over the range, the closest count found is kept. Small structures that
        cannot reach the lower bound even with cells of half the finest voxel spacing keep that
        finest mesh if it has at least ``min(target_nodes[0], MIN_NODES)`` nodes.

    Returns
    -------
    TetMesh
        Single face-connected mesh, positively oriented, every tet tagged ``tissue``.

    Raises
    ------
    InputError
        Empty region, singular affine, bad range, or a structure too small for a minimal mesh.

    Examples
    --------
    >>> import numpy as np
    >>> k, j, i = np.mgrid[:32, :32, :32]
    >>> ball = Region.from_full_mask((i - 16) ** 2 + (j - 16) ** 2 + (k - 16) ** 2 < 15 ** 2)
    >>> mesh = build_tet_mesh(ball, np.eye(4), tissue="liver")
    >>> 2000 <= mesh.n_nodes <= 5000
    True
    """
    region, affine = _checked(region, affine_lps, tissue, target_nodes)
    spacing_kji = np.linalg.norm(affine[:3, :3], axis=0)[::-1]
    voxel_mm3 = abs(float(np.linalg.det(affine[:3, :3])))
    occupancy, factors = _block_occupancy(region.mask, spacing_kji,
                                          region.voxel_count * voxel_mm3, target_nodes[1])
    table = _summed_volume(occupancy)
    grid = _search_grid(table, spacing_kji * factors, region.voxel_count * voxel_mm3,
                        target_nodes)
    minimum = min(target_nodes[0], MIN_NODES)
    if grid.n_nodes < minimum:
        raise InputError(
            f"this {tissue} structure is too small for a physics mesh: {region.voxel_count} voxels "
            f"({region.voxel_count * voxel_mm3 / 1000:.3f} mL) give at most {grid.n_nodes} "
            f"connected nodes, fewer than the minimum {minimum}. Treat it as rigid (collision "
            "proxy only), merge it with a neighbouring structure, or lower target_nodes.")
    nodes_kji, tets = _kuhn_tets(grid)
    nodes_kji = nodes_kji * factors - 0.5 + np.asarray(region.offset_kji, dtype=np.float64)
    nodes = nodes_kji[:, ::-1] @ affine[:3, :3].T + affine[:3, 3]
    tets = _oriented(nodes, tets)
    nodes, tets = _compacted(nodes, tets[largest_face_connected(tets)])
    return TetMesh(nodes, tets, tissue, cell_size_mm=grid.cell_size_mm,
                   source_volume_ml=region.voxel_count * voxel_mm3 / 1000.0)


def _checked(region: Region, affine_lps: np.ndarray, tissue: str,
             target_nodes: tuple[int, int]) -> tuple[Region, np.ndarray]:
    affine = np.asarray(affine_lps, dtype=np.float64)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise InputError("affine_lps must be a finite 4x4 matrix mapping (i, j, k, 1) to LPS mm")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError("affine_lps is singular (zero voxel volume); check the volume geometry")
    lo, hi = target_nodes
    if not 8 <= lo <= hi:
        raise InputError(f"target_nodes must be (low, high) with 8 <= low <= high, got "
                         f"{target_nodes}; the default is (2000, 5000)")
    if region.is_empty:
        raise InputError(f"this {tissue} structure has no voxels: segment it before meshing")
    return region.tight(), affine


LARGE_MASK_VOXELS = 4_000_000


def _block_occupancy(mask: np.ndarray, spacing_kji: np.ndarray, volume_mm3: float,
                     max_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """A large mask as the inside fraction of blocks far smaller than the expected cells.

    A body outline holds tens of millions of voxels while its cells are ~15 mm: summing the
    mask into blocks of about a quarter cell first keeps the occupancy table small and the
    cell fractions exact at block resolution. Returns the (block) occupancy and the block size
    in voxels per axis (k, j, i); small masks are returned as they are with factors of 1.
    """
    expected_cell_mm = (volume_mm3 / max(max_nodes, 1)) ** (1.0 / 3.0)
    factors = np.maximum(1, np.floor(expected_cell_mm / 4.0 / spacing_kji)).astype(np.int64)
    if mask.size < LARGE_MASK_VOXELS or int(factors.prod()) == 1:
        return mask, np.ones(3, dtype=np.int64)
    padded_shape = -(-np.asarray(mask.shape) // factors) * factors
    padded = np.zeros(tuple(padded_shape), dtype=np.uint8)
    padded[:mask.shape[0], :mask.shape[1], :mask.shape[2]] = mask
    blocks = padded.reshape(padded_shape[0] // factors[0], factors[0],
                            padded_shape[1] // factors[1], factors[1],
                            padded_shape[2] // factors[2], factors[2])
    counts = blocks.sum(axis=(1, 3, 5), dtype=np.int32)
    return counts / float(factors.prod()), factors


def _summed_volume(occupancy: np.ndarray) -> np.ndarray:
    """(nk+1, nj+1, ni+1) table: entry [a, b, c] = inside volume of occupancy[:a, :b, :c]."""
    table = np.zeros(tuple(s + 1 for s in occupancy.shape), dtype=np.float64)
    table[1:, 1:, 1:] = occupancy.cumsum(0, dtype=np.float64).cumsum(1).cumsum(2)
    return table


def _interp_axis(table: np.ndarray, axis: int, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``table`` along ``axis`` at ``positions`` (clamped to the ends)."""
    last = table.shape[axis] - 1
    pos = np.clip(positions, 0.0, last)
    low = np.minimum(np.floor(pos).astype(np.int64), max(last - 1, 0))
    weight = pos - low
    shape = [1, 1, 1]
    shape[axis] = -1
    weight = weight.reshape(shape)
    high = np.minimum(low + 1, last)
    return np.take(table, low, axis) * (1 - weight) + np.take(table, high, axis) * weight


def _grid_for(table: np.ndarray, spacing_kji: np.ndarray, cell_mm: float) -> _Grid:
    """Cells of edge ``cell_mm`` at least half inside, largest 6-connected group only."""
    extent = np.array(table.shape, dtype=np.float64) - 1
    step = cell_mm / spacing_kji
    n_cells = np.maximum(1, np.ceil(extent / step - 1e-9)).astype(np.int64)
    origin = (extent - n_cells * step) / 2
    corners = table
    for axis in range(3):
        corners = _interp_axis(corners, axis, origin[axis] + np.arange(n_cells[axis] + 1)
                               * step[axis])
    fraction = np.diff(np.diff(np.diff(corners, axis=0), axis=1), axis=2) / np.prod(step)
    labels, count = ndimage.label(fraction >= 0.5)
    if count == 0:
        return _Grid(labels > 0, origin, step, cell_mm, 0)
    cells = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    used = np.zeros(tuple(n_cells + 1), dtype=bool)
    for dk, dj, di in _CORNERS:
        used[dk:dk + n_cells[0], dj:dj + n_cells[1], di:di + n_cells[2]] |= cells
    return _Grid(cells, origin, step, cell_mm, int(used.sum()))


def _search_grid(table: np.ndarray, spacing_kji: np.ndarray, volume_mm3: float,
                 target_nodes: tuple[int, int]) -> _Grid:
    """The grid whose node count lands in ``target_nodes`` (or the closest one found)."""
    lo, hi = target_nodes
    target = np.sqrt(lo * hi)
    finest = 0.5 * float(spacing_kji.min())
    cell = max(finest, np.cbrt(volume_mm3 / target))
    too_fine, too_coarse, best = 0.0, np.inf, None
    for _ in range(60):
        grid = _grid_for(table, spacing_kji, cell)
        if best is None or _miss(grid.n_nodes, target) < _miss(best.n_nodes, target):
            best = grid
        if lo <= grid.n_nodes <= hi or (grid.n_nodes < lo and cell <= finest):
            return grid
        if grid.n_nodes > hi:
            too_fine = cell
        else:
            too_coarse = cell
        if too_coarse / max(too_fine, 1e-300) < 1.0005:
            break
        ratio = np.cbrt(max(grid.n_nodes, 1) / target)
        cell = max(finest, cell * float(np.clip(ratio, 0.5, 2.0)))
        if not too_fine < cell < too_coarse:
            cell = np.sqrt(too_fine * too_coarse) if too_fine > 0 else max(finest, cell)
    return best


def _miss(n_nodes: int, target: float) -> float:
    return abs(np.log(max(n_nodes, 1) / target))


def _kuhn_tets(grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """Node positions (n, 3) in table coordinates (k, j, i) and tets (m, 4) of the kept cells."""
    node_shape = tuple(s + 1 for s in grid.cells.shape)
    cells = np.argwhere(grid.cells)
    corners = cells[:, None, None, :] + _KUHN[None]
    flat = np.ravel_multi_index(tuple(np.moveaxis(corners, -1, 0)), node_shape)
    used, tets = np.unique(flat.reshape(-1, 4), return_inverse=True)
    index = np.stack(np.unravel_index(used, node_shape), axis=1)
    return grid.origin + index * grid.step, tets.reshape(-1, 4).astype(np.int64)


def _oriented(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Tets with vertices 1 and 2 swapped where the signed volume is negative."""
    flip = signed_volumes(nodes, tets) < 0
    tets = tets.copy()
    tets[flip, 1], tets[flip, 2] = tets[flip, 2], tets[flip, 1].copy()
    return tets


def _compacted(nodes: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop nodes no tet uses and renumber."""
    used, inverse = np.unique(tets, return_inverse=True)
    return nodes[used], inverse.reshape(-1, 4).astype(np.int64)

