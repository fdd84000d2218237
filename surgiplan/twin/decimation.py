"""Decimation of contour meshes to a triangle budget (fast-simplification), in one piece or,
for large contours, in two halves decimated in parallel (one in a helper process) and joined.

Points are (n, 3) float64 and faces (m, 3) int64; any frame (the surface code passes LPS mm).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version

import fast_simplification
import numpy as np


def decimate(points: np.ndarray, faces: np.ndarray,
              budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation (fast-simplification) to at most ``budget`` triangles."""
    centre = points.mean(axis=0)  # decimate near the origin: better float precision
    new_points, new_faces = fast_simplification.simplify(points - centre, faces,
                                                         target_count=budget)
    return np.asarray(new_points, dtype=np.float64) + centre, np.asarray(new_faces, np.int64)


def compact(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop faces with a repeated vertex and vertices no face uses."""
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
                  & (faces[:, 0] != faces[:, 2])]
    used = np.zeros(len(points), dtype=bool)
    used[faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    return points[used], new_index[faces].astype(np.int64)



SPLIT_MIN_TRIANGLES = 500_000
"""Contours at least this large (and over twice the budget) are cut in two by a plane across
their longest extent (see :func:`halves`); each half is decimated to its share of the
budget with its cut rim kept (fast-simplification's ``preserve_border``), and the rims are
joined again, so the mesh stays closed. With two usable CPUs one half is decimated in a helper
process (fast-simplification keeps global state: it cannot run in two threads): the chest
lungs' 1.16M-triangle contour decimates in about half the wall time. The result does not depend
on whether the helper ran."""
HELPER_SHARE = 0.45
KEEPS_RIMS = tuple(int(part) for part in re.findall(r"\d+", version("fast-simplification"))[:2]
                    ) >= (0, 2)
"""fast-simplification 0.2.0 and later can keep open rims; older versions decimate whole."""


def worth_cutting(n_faces: int, budget: int | None) -> bool:
    return (KEEPS_RIMS and budget is not None and n_faces >= SPLIT_MIN_TRIANGLES
            and n_faces > 2 * budget)


def halves(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(m,) bool: faces beyond the cut plane across the longest extent.

    The plane leaves :data:`HELPER_SHARE` of the faces before it (the helper's part: a fresh
    process pays for its first memory, so it gets a little less).
    """
    axis = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
    centre = points[faces, axis].sum(axis=1)  # three times the centroid coordinate
    rank = int(HELPER_SHARE * len(centre))
    return centre > np.partition(centre, rank)[rank]


def use_helper(enabled: bool) -> bool:
    """A helper process is worth starting: ``enabled``, two CPUs, a Python to run."""
    if not enabled or getattr(sys, "frozen", False) or not sys.executable:
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) >= 2


def simplified(points: np.ndarray, faces: np.ndarray, budget: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """fast-simplification to ``budget`` keeping open rims (the helper runs the same call)."""
    new_points, new_faces = fast_simplification.simplify(points, faces, target_count=budget,
                                                         preserve_border=True)
    return np.asarray(new_points, dtype=np.float64), np.asarray(new_faces, dtype=np.int64)


def decimate_halves(points: np.ndarray, faces: np.ndarray, beyond: np.ndarray, budget: int,
                     helper: DecimationHelper | None) -> tuple[np.ndarray, np.ndarray]:
    """Decimate the two halves (the first in ``helper``), then join their identical rims."""
    centre = points.mean(axis=0)  # near the origin: better float precision
    parts = [compact(points - centre, faces[beyond == side]) for side in (False, True)]
    first = int(round(budget * len(parts[0][1]) / len(faces)))
    budgets = (first, budget - first)
    sent = helper is not None and helper.send(*parts[0], budgets[0])
    second = simplified(*parts[1], budgets[1])
    done = helper.receive() if sent else None
    done = done if done is not None else simplified(*parts[0], budgets[0])
    joined = np.vstack([done[0], second[0]])
    unique, inverse = np.unique(joined, axis=0, return_inverse=True)  # rim points: bit-equal
    faces = inverse.reshape(-1)[np.vstack([done[1], second[1] + len(done[0])])]
    return unique + centre, faces


class DecimationHelper:
    """A Python process running :func:`simplified` on one mesh.

    Arrays go through its stdin and stdout as raw bytes; any failure (no Python, a crash, a
    timeout) makes :meth:`receive` return None and the caller decimates in this process.
    """

    CODE = """
import sys
import numpy as np
import fast_simplification
src, dst = sys.stdin.buffer, sys.stdout.buffer
def read(dtype, count):
    out = np.empty(count, dtype)
    view, got = memoryview(out).cast("B"), 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            sys.exit(3)
        got += n
    return out
n_points, n_faces, budget = (int(v) for v in read(np.int64, 3))
points = read(np.float64, 3 * n_points).reshape(-1, 3)
faces = read(np.int64, 3 * n_faces).reshape(-1, 3)
points, faces = fast_simplification.simplify(points, faces, target_count=budget,
                                             preserve_border=True)
points = np.ascontiguousarray(points, np.float64)
faces = np.ascontiguousarray(faces, np.int64)
dst.write(np.array([len(points), len(faces)], np.int64).tobytes())
dst.write(points.tobytes())
dst.write(faces.tobytes())
dst.flush()
"""
    TIMEOUT_S = 300.0

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    @classmethod
    def start(cls) -> DecimationHelper | None:
        """Start the helper (it imports while this process smooths), or None."""
        try:
            return cls(subprocess.Popen([sys.executable, "-c", cls.CODE], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        except OSError:
            return None

    def send(self, points: np.ndarray, faces: np.ndarray, budget: int) -> bool:
        """Hand over a mesh (n, 3) float64 / (m, 3) int64 and its budget; False on failure."""
        header = np.array([len(points), len(faces), budget], dtype=np.int64)
        try:
            for array in (header, np.ascontiguousarray(points, np.float64),
                          np.ascontiguousarray(faces, np.int64)):
                self.process.stdin.write(memoryview(array).cast("B"))
            self.process.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def receive(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The decimated (points, faces), or None when the helper failed."""
        try:
            out, _ = self.process.communicate(timeout=self.TIMEOUT_S)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return None
        if self.process.returncode != 0 or len(out) < 16:
            return None
        n_points, n_faces = (int(v) for v in np.frombuffer(out[:16], np.int64))
        if len(out) != 16 + 24 * (n_points + n_faces):
            return None
        points = np.frombuffer(out, np.float64, 3 * n_points, 16).reshape(-1, 3)
        faces = np.frombuffer(out, np.int64, 3 * n_faces, 16 + 24 * n_points).reshape(-1, 3)
        return points.copy(), faces.copy()

    def close(self) -> None:
        """End the helper if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
