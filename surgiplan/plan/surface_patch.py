"""Triangle-mesh helpers of the geodesic incision tracer: face components, closest points on
triangles, polyline resampling, manifold patches and point insertion (vertex coordinates in
patient LPS millimetres, faces as (m, 3) vertex indices)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

BARY_EPS = 1e-4
"""Closer than this (fraction of the triangle) to a vertex or edge: use the vertex or edge."""


def face_components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(m,) connected-piece label of each face (pieces joined through shared vertices)."""
    rows = np.repeat(faces[:, 0], 2)
    cols = faces[:, 1:].reshape(-1)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    labels = connected_components(graph, directed=False)[1]
    return labels[faces[:, 0]]


def closest_on_triangles(point: np.ndarray, corners: np.ndarray):
    """Closest points (m, 3) and barycentrics (m, 3) of ``point`` on triangles (m, 3, 3)."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    v0, v1, v2 = b - a, c - a, point - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    denom = d00 * d11 - d01 * d01
    safe = np.where(denom > 0, denom, 1.0)
    v = (d11 * d20 - d01 * d21) / safe
    w = (d00 * d21 - d01 * d20) / safe
    inside = (denom > 0) & (v >= 0) & (w >= 0) & (v + w <= 1)
    options = [np.stack([1 - v - w, v, w], axis=1)]
    for i, j in ((0, 1), (1, 2), (2, 0)):
        edge = corners[:, j] - corners[:, i]
        length2 = np.maximum((edge * edge).sum(1), 1e-300)
        t = np.clip(((point - corners[:, i]) * edge).sum(1) / length2, 0.0, 1.0)
        bary = np.zeros((len(corners), 3))
        bary[:, i], bary[:, j] = 1 - t, t
        options.append(bary)
    stacked = np.stack(options)  # (4, m, 3)
    positions = np.einsum("kmi,mij->kmj", stacked, corners)
    distance = np.linalg.norm(positions - point, axis=2)
    distance[0, ~inside] = np.inf
    best = np.argmin(distance, axis=0)
    pick = np.arange(len(corners))
    return positions[best, pick], stacked[best, pick]


def resample(chain: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` (or less) of arc length along polyline ``chain`` (n, 3), ends kept.

    Every point of the polyline is within ``step / 2`` of one of the samples.
    """
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=1))])
    samples = np.linspace(0.0, arc[-1], max(2, int(np.ceil(arc[-1] / step)) + 1))
    return np.stack([np.interp(samples, arc, chain[:, i]) for i in range(3)], axis=1)


def make_manifold(all_faces: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Grow a face selection until no vertex joins two separate fans (a 'bow tie')."""
    for _ in range(100):
        sub = all_faces[faces]
        edges = np.sort(np.stack([sub, np.roll(sub, -1, axis=1)], axis=2).reshape(-1, 2), axis=1)
        unique, counts = np.unique(edges, axis=0, return_counts=True)
        boundary = unique[counts == 1].reshape(-1)
        vertex, per_vertex = np.unique(boundary, return_counts=True)
        pinched = vertex[per_vertex > 2]
        if len(pinched) == 0:
            return faces
        ring = np.nonzero(np.isin(all_faces, pinched).any(axis=1))[0]
        faces = np.union1d(faces, ring)
    return faces


def connected_part(all_faces: np.ndarray, faces: np.ndarray, seed_face: int) -> np.ndarray:
    """The faces of ``faces`` connected (through vertices) to ``seed_face``."""
    used, local = np.unique(all_faces[faces], return_inverse=True)
    labels = face_components(local.reshape(-1, 3), len(used))
    return faces[labels == labels[np.searchsorted(faces, seed_face)]]


def insert_points(vertices: np.ndarray, faces: np.ndarray, points: list[tuple[int, np.ndarray]]):
    """Insert points (face, (3,) position) as vertices; returns vertices, faces, vertex ids."""
    vertices, faces = vertices.copy(), faces.copy()
    origin = np.arange(len(faces))
    ids = []
    for face, position in points:
        children = np.nonzero(origin == face)[0]
        closest, barys = closest_on_triangles(position, vertices[faces[children]])
        best = int(np.argmin(np.linalg.norm(closest - position, axis=1)))
        current, bary = int(children[best]), barys[best]
        corner = faces[current]
        if bary.max() >= 1 - BARY_EPS:
            ids.append(int(corner[np.argmax(bary)]))
            continue
        new = len(vertices)
        vertices = np.vstack([vertices, position])
        if bary.min() <= BARY_EPS:
            opposite = int(np.argmin(bary))
            p, q = corner[(opposite + 1) % 3], corner[(opposite + 2) % 3]
            vertices[new] = (bary[(opposite + 1) % 3] * vertices[p]
                             + bary[(opposite + 2) % 3] * vertices[q]) / (1 - bary[opposite])
            faces, origin = split_edge(faces, origin, p, q, new)
        else:
            i, j, k = corner
            faces[current] = (i, j, new)
            faces = np.vstack([faces, [(j, k, new), (k, i, new)]])
            origin = np.concatenate([origin, [origin[current]] * 2])
        ids.append(new)
    return vertices, faces, ids


def split_edge(faces: np.ndarray, origin: np.ndarray, p: int, q: int, new: int):
    """Split edge (p, q) at vertex ``new`` in every face using it (keeps orientation)."""
    sharing = np.nonzero((faces == p).any(axis=1) & (faces == q).any(axis=1))[0]
    added, added_origin = [], []
    for f in sharing:
        face = faces[f]
        third = int(np.nonzero((face != p) & (face != q))[0][0])
        a, b, r = face[(third + 1) % 3], face[(third + 2) % 3], face[third]
        faces[f] = (a, new, r)
        added.append((new, b, r))
        added_origin.append(origin[f])
    return np.vstack([faces, added]), np.concatenate([origin, added_origin])

