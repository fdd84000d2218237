"""Regular tetrahedral meshes of boxes for the FEM tests (Kuhn split of a tensor-product grid).

Each grid cell is split into the 6 Kuhn tets around its main diagonal; the split is conforming
and every tet is positively oriented. Axis coordinates may be graded (any increasing arrays), so
a mesh can be refined under a contact patch.
"""

from __future__ import annotations

import itertools

import numpy as np

_KUHN = np.array([[(0, 0, 0), np.eye(3, dtype=int)[p[0]],
                   np.eye(3, dtype=int)[p[0]] + np.eye(3, dtype=int)[p[1]], (1, 1, 1)]
                  for p in itertools.permutations(range(3))], dtype=np.int64)
"""(6, 4, 3) corner offsets (x, y, z) of the Kuhn tets of a unit cell."""
_FIVE_EVEN = np.array([[(0, 0, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1)],
                       [(1, 0, 0), (0, 0, 0), (1, 1, 0), (1, 0, 1)],
                       [(0, 1, 0), (0, 0, 0), (1, 1, 0), (0, 1, 1)],
                       [(0, 0, 1), (0, 0, 0), (1, 0, 1), (0, 1, 1)],
                       [(1, 1, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)]], dtype=np.int64)
"""(5, 4, 3) corner offsets of the 5-tet split (a central tet and four corner tets)."""
_FIVE_ODD = _FIVE_EVEN * np.array([-1, 1, 1]) + np.array([1, 0, 0])
"""The same split mirrored in x, used on cells of odd parity so neighbours conform."""


def grid_box(xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, *,
             split: str = "five") -> tuple[np.ndarray, np.ndarray]:
    """Tet mesh of the box spanned by increasing axis coordinates (mm).

    Parameters
    ----------
    xs, ys, zs : (nx + 1,), (ny + 1,), (nz + 1,) float arrays
        Node coordinates along each axis, mm.
    split : {"five", "kuhn"}
        ``"five"``: 5 tets per cell, mirrored on alternate cells (the structured mesh of
        physics.md's benchmarks, nearly isotropic); ``"kuhn"``: the 6 Kuhn tets around the
        same diagonal in every cell (as :func:`surgiplan.twin.tetmesh.build_tet_mesh`), which
        is stiffer in bending.

    Returns
    -------
    nodes : ((nx + 1) (ny + 1) (nz + 1), 3) float64 ndarray
        Node positions, mm; node ``(i, j, k)`` is at index ``(i * (ny + 1) + j) * (nz + 1) + k``.
    tets : (5 or 6 nx ny nz, 4) int64 ndarray
        Positively oriented tets.
    """
    axes = [np.asarray(a, dtype=np.float64) for a in (xs, ys, zs)]
    shape = tuple(len(a) for a in axes)
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    cells = np.stack(np.meshgrid(*(np.arange(n - 1) for n in shape), indexing="ij"),
                     axis=-1).reshape(-1, 3)
    if split == "kuhn":
        corners = cells[:, None, None, :] + _KUHN[None]
    elif split == "five":
        odd = (cells.sum(axis=1) % 2 == 1)[:, None, None, None]
        corners = cells[:, None, None, :] + np.where(odd, _FIVE_ODD[None], _FIVE_EVEN[None])
    else:
        raise ValueError(f"unknown split {split!r}")
    tets = np.ravel_multi_index(tuple(np.moveaxis(corners, -1, 0)), shape).reshape(-1, 4)
    p = nodes[tets]
    volume = np.einsum("ij,ij->i", p[:, 1] - p[:, 0],
                       np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))
    flip = volume < 0
    tets[flip, 1], tets[flip, 2] = tets[flip, 2], tets[flip, 1].copy()
    return nodes, tets.astype(np.int64)


def box(size_mm: tuple[float, float, float], cells: tuple[int, int, int],
        origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0), *,
        split: str = "five") -> tuple[np.ndarray, np.ndarray]:
    """Uniform tet mesh of a box ``size_mm`` with ``cells`` grid cells per axis (see grid_box)."""
    axes = [o + np.linspace(0.0, s, c + 1) for o, s, c in zip(origin_mm, size_mm, cells,
                                                              strict=True)]
    return grid_box(*axes, split=split)


def graded_axis(half_width_mm: float, fine_mm: float, fine_half_width_mm: float,
                growth: float) -> np.ndarray:
    """Symmetric axis coordinates on [-half_width, half_width]: spacing ``fine_mm`` within
    ``fine_half_width_mm`` of 0, then growing geometrically by ``growth`` per cell."""
    positive = list(np.arange(0.0, fine_half_width_mm + 1e-9, fine_mm))
    step = fine_mm
    while positive[-1] < half_width_mm - 1e-9:
        step *= growth
        positive.append(min(positive[-1] + step, half_width_mm))
    if half_width_mm - positive[-2] < 0.5 * step and len(positive) > 2:
        del positive[-2]
    positive = np.asarray(positive)
    return np.concatenate([-positive[:0:-1], positive])


def disk_mapped(nodes: np.ndarray) -> np.ndarray:
    """Nodes of a grid symmetric about x = y = 0 with each square ring ``max(|x|, |y|) = t``
    mapped onto the circle of radius ``t`` (elliptical square-to-disk map): a box becomes a
    cylinder and grid nodes at ``t = a`` lie exactly on the circle ``r = a`` (a punch rim)."""
    x, y = nodes[:, 0], nodes[:, 1]
    t = np.maximum(np.abs(x), np.abs(y))
    safe = np.where(t > 0, t, 1.0)
    u, v = x / safe, y / safe
    out = nodes.copy()
    out[:, 0] = t * u * np.sqrt(1.0 - v**2 / 2.0)
    out[:, 1] = t * v * np.sqrt(1.0 - u**2 / 2.0)
    return out
