"""Connected-component selection of a segmentation mask (largest N, minimum size, touching
the top of the scan), labelled with cc3d in the mask's bounding box."""

from __future__ import annotations

import numpy as np

from surgiplan.segmentation.morphology import label_components

SIZE_CHUNK_VOXELS = 1 << 23
"""Labels are counted in chunks of about this many voxels (a whole-box bincount first copies
the labels to int64: 0.6 GB for a body box)."""


def _component_sizes(labels: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """(n + 1,) voxel count per label (0 for the background), a few slices at a time.

    Only the mask's voxels are counted: on the chest's body box four times faster than
    counting every label.
    """
    sizes = np.zeros(n + 1, dtype=np.int64)
    step = max(1, SIZE_CHUNK_VOXELS // max(1, labels[0].size))
    for start in range(0, len(labels), step):
        chunk = slice(start, start + step)
        sizes += np.bincount(labels[chunk][mask[chunk]], minlength=n + 1)
    return sizes


def select_components(mask: np.ndarray, count: int | None, voxel_ml: float, *,
                      min_component_ml: float = 0.0, touches_superior: bool = False,
                      superior_face: tuple[slice, ...] | None = None) -> np.ndarray:
    """The connected components of a box mask that a preset keeps.

    Components are labelled in the mask's own bounding box (the airway candidate fills a
    third of the body box), and the result is written into ``mask``'s memory: fresh pages
    cost more than the comparisons on a body-sized box.

    Parameters
    ----------
    mask : (k, j, i) bool ndarray
        Candidate voxels; overwritten with the result.
    count : int or None
        Keep the largest ``count`` components (None: all that qualify).
    voxel_ml : float
        Volume of one voxel (ml).
    min_component_ml : float
        Smaller components are dropped.
    touches_superior : bool
        Keep only components reaching ``superior_face``.
    superior_face : tuple of slice or None
        The box's slab on the scan's superior face (None: the box does not reach it).

    Returns
    -------
    (k, j, i) bool ndarray
        The kept components.
    """
    if count is None and min_component_ml <= 0 and not touches_superior:
        return mask
    crop = _bounding_box(mask)
    if crop is None:
        return mask
    inner = mask[crop]
    if inner.size < CROP_BELOW * mask.size:
        selected = _selected(np.ascontiguousarray(inner), count, voxel_ml, min_component_ml,
                             touches_superior, _face_in(superior_face, crop))
        mask[...] = False
        mask[crop] = selected
        return mask
    return _selected(mask, count, voxel_ml, min_component_ml, touches_superior, superior_face)


CROP_BELOW = 0.7
"""Label in the mask's bounding box when that holds less than this fraction of the box."""


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the true voxels' bounding box (two passes over the mask), None if empty."""
    planes = mask.reshape(mask.shape[0], -1).any(axis=1)
    if not planes.any():
        return None
    rows_columns = mask.any(axis=0)
    spans = [np.flatnonzero(planes), np.flatnonzero(rows_columns.any(axis=1)),
             np.flatnonzero(rows_columns.any(axis=0))]
    return tuple(slice(int(span[0]), int(span[-1]) + 1) for span in spans)


def _face_in(face: tuple[slice, ...] | None,
             crop: tuple[slice, ...]) -> tuple[slice, ...] | None:
    """The superior face slab in the cropped box's indices (None when the crop misses it)."""
    if face is None:
        return None
    out = []
    for part, window in zip(face, crop, strict=True):
        start, stop, _ = part.indices(window.stop)
        start, stop = max(start, window.start), min(stop, window.stop)
        if start >= stop:
            return None
        out.append(slice(start - window.start, stop - window.start))
    return tuple(out)


def _selected(mask: np.ndarray, count: int | None, voxel_ml: float, min_component_ml: float,
              touches_superior: bool, superior_face: tuple[slice, ...] | None) -> np.ndarray:
    """The kept components of ``mask`` (written into its memory)."""
    labels, n = label_components(mask)
    if n == 0:
        return mask
    sizes = _component_sizes(labels, mask, n).astype(float) * voxel_ml
    sizes[0] = 0.0
    if touches_superior:
        touching = np.zeros(n + 1, dtype=bool)
        if superior_face is not None:
            touching[np.unique(labels[superior_face])] = True
        sizes[~touching] = 0.0
    sizes[sizes < max(min_component_ml, 0.0)] = 0.0
    order = np.argsort(-sizes, kind="stable")
    kept = [int(i) for i in order[:count] if sizes[i] > 0]
    if len(kept) > 4:  # a few comparisons beat a lookup over the whole box
        chosen = np.zeros(n + 1, dtype=bool)
        chosen[kept] = True
        return chosen[labels]
    if not kept:
        mask[...] = False
        return mask
    out = np.equal(labels, kept[0], out=mask)
    spare = np.empty_like(mask) if len(kept) > 1 else None
    for label in kept[1:]:
        out |= np.equal(labels, label, out=spare)
    return out
