"""Sparse Cholesky backends for the FEM factors: CHOLMOD through scikit-sparse, else cholespy.

Both backends run SuiteSparse's CHOLMOD. ``"cholmod"`` (scikit-sparse, optional extra ``fast``)
links the system SuiteSparse and its BLAS; with Debian's ``libopenblas0-pthread`` as the BLAS
the supernodal factorization and solves use OpenBLAS, several times faster than ``"cholespy"``,
whose self-contained wheel ships CHOLMOD with reference BLAS (20k-node FEM: factorization
3-6 s vs 35-38 s, one solve 40-50 ms vs 58-62 ms). The default is the first importable backend
of :data:`BACKENDS`; ``SURGIPLAN_CHOLESKY`` (environment) or the ``backend`` argument choose
one explicitly. Both raise ``ValueError`` on a matrix that is not positive definite.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from surgiplan.errors import InputError

BACKENDS = ("cholmod", "cholespy")
"""Backend names in order of preference."""
_MODULES = {"cholmod": "sksparse.cholmod", "cholespy": "cholespy"}


class SparseCholesky(Protocol):
    """A factorized SPD matrix ``A`` ``(d, d)``."""

    backend: str

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``A^-1 rhs`` for ``(d,)`` or ``(d, k)`` float64 right-hand sides (same shape)."""


@functools.cache
def available_backends() -> tuple[str, ...]:
    """Backends whose module imports (scikit-sparse installed without its SuiteSparse
    libraries does not), in order of preference."""
    found = []
    for name in BACKENDS:
        try:
            importlib.import_module(_MODULES[name])
        except ImportError:
            continue
        found.append(name)
    return tuple(found)


def default_backend() -> str:
    """``$SURGIPLAN_CHOLESKY`` when set, else the first importable backend."""
    chosen = os.environ.get("SURGIPLAN_CHOLESKY")
    if chosen:
        return _checked(chosen)
    available = available_backends()
    if not available:
        raise InputError("no sparse Cholesky backend: install cholespy or scikit-sparse")
    return available[0]


def resolve_backend(backend: str | None = None) -> str:
    """``backend`` checked (``InputError`` when unknown or not installed), or the default."""
    return _checked(backend) if backend else default_backend()


def factorize(matrix: sp.spmatrix, backend: str | None = None) -> SparseCholesky:
    """Cholesky factor of a symmetric positive definite sparse matrix.

    Parameters
    ----------
    matrix : (d, d) scipy.sparse matrix
        Symmetric positive definite; only its lower triangle is read.
    backend : {"cholmod", "cholespy"}, optional
        Default :func:`default_backend`.

    Raises
    ------
    ValueError
        The matrix is not positive definite.
    """
    name = resolve_backend(backend)
    lower = sp.tril(sp.csc_matrix(matrix, dtype=np.float64)).tocsc()
    lower.sort_indices()
    return _CholmodFactor(lower) if name == "cholmod" else _CholespyFactor(lower)


def blas_threads() -> int | None:
    """Threads of the system OpenBLAS that scikit-sparse's CHOLMOD calls (None: not loaded)."""
    try:
        return int(ctypes.CDLL("libopenblas.so.0", mode=os.RTLD_NOLOAD)
                   .openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def _checked(name: str) -> str:
    if name not in BACKENDS:
        raise InputError(f"unknown sparse Cholesky backend {name!r}; choose from {BACKENDS}")
    if name not in available_backends():
        raise InputError(f"sparse Cholesky backend {name!r} is not installed")
    return name


class _CholmodFactor:
    """scikit-sparse CHOLMOD, supernodal (BLAS) with CHOLMOD's default fill-reducing ordering
    (AMD, or METIS where it fills less)."""

    backend = "cholmod"

    def __init__(self, lower: sp.csc_matrix) -> None:
        from sksparse.cholmod import CholmodNotPositiveDefiniteError, cholesky

        try:
            self._factor = cholesky(lower, mode="supernodal")
        except CholmodNotPositiveDefiniteError as error:
            raise ValueError(f"Matrix is not positive definite! ({error})") from None

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return self._factor(np.ascontiguousarray(rhs, dtype=np.float64))


class _CholespyFactor:
    """cholespy's bundled CHOLMOD (reference BLAS)."""

    backend = "cholespy"

    def __init__(self, lower: sp.csc_matrix) -> None:
        from cholespy import CholeskySolverD, MatrixType

        self._solver = CholeskySolverD(lower.shape[0], lower.indptr.astype(np.int32),
                                       lower.indices.astype(np.int32),
                                       np.ascontiguousarray(lower.data), MatrixType.CSC)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(rhs, dtype=np.float64)
        x = np.zeros_like(b)
        self._solver.solve(b, x)
        return x
