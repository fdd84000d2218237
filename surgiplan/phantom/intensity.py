"""Turn the label map into a CT volume in Hounsfield units with realistic noise.

Pipeline, all on arrays of shape ``(nk, nj, ni)`` indexed ``[k, j, i]``:

1. look up the noise-free HU of every label (:data:`anatomy_spec.HU`), with a one-voxel
   cortical shell of :data:`anatomy_spec.CORTICAL_BONE_HU` on ribs and spine;
2. blur slightly (Gaussian, :data:`BLUR_SIGMA_VOXELS`) to mimic the scanner's point
   spread and partial volume at edges;
3. add spatially correlated Gaussian noise of standard deviation :data:`NOISE_SD_HU`
   inside the body outline plus a small margin (the air around the patient is left
   noise-free so that the committed series stays small);
4. round and clip to the int16 range used by the DICOM writer.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.phantom import anatomy_spec as spec

#: Standard deviation of the image noise inside the body, HU.
NOISE_SD_HU: float = 12.0
#: Gaussian blur of the noise-free image, sigma in voxels along (k, j, i).
BLUR_SIGMA_VOXELS: tuple[float, float, float] = (0.3, 0.7, 0.7)
#: In-plane correlation of the noise (reconstruction-kernel look), sigma in voxels (k, j, i).
NOISE_CORRELATION_SIGMA_VOXELS: tuple[float, float, float] = (0.0, 0.6, 0.6)
#: In-plane margin (voxels) around the body outline that still receives noise.
NOISE_MARGIN_VOXELS: int = 3
#: Range of stored HU values.
HU_RANGE: tuple[int, int] = (-1024, 3071)


def noise_free_hu(labels: np.ndarray) -> np.ndarray:
    """Piecewise-constant HU image of a label map.

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 label map, shape ``(nk, nj, ni)``.

    Returns
    -------
    numpy.ndarray
        float32 HU image of the same shape; bone voxels on the surface of ribs and spine
        (6-connected) get :data:`anatomy_spec.CORTICAL_BONE_HU`.
    """
    lut = np.full(256, spec.HU["air"], dtype=np.float32)
    for label, name in spec.LABELS.items():
        lut[label] = spec.HU[name]
    hu = lut[labels]
    bone = np.isin(labels, [spec.LABEL_IDS[name] for name in spec.BONE_STRUCTURES])
    interior = ndimage.binary_erosion(bone, ndimage.generate_binary_structure(3, 1), border_value=1)
    hu[bone & ~interior] = spec.CORTICAL_BONE_HU
    return hu


def correlated_noise(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Zero-mean Gaussian noise with in-plane correlation and unit standard deviation.

    Parameters
    ----------
    shape : tuple of int
        ``(nk, nj, ni)``.
    rng : numpy.random.Generator
        Source of randomness (consumed deterministically).

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``.
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    sigma = NOISE_CORRELATION_SIGMA_VOXELS
    impulse = np.zeros((1, 31, 31), dtype=np.float64)
    impulse[0, 15, 15] = 1.0
    gain = float(np.sqrt((ndimage.gaussian_filter(impulse, sigma) ** 2).sum()))
    return ndimage.gaussian_filter(white, sigma) / np.float32(gain)


def synthesize_ct(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated CT volume of a label map.

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 label map, shape ``(nk, nj, ni)``.
    rng : numpy.random.Generator
        Noise source; the same generator state gives identical output.

    Returns
    -------
    numpy.ndarray
        int16 HU volume, shape ``(nk, nj, ni)``.
    """
    blurred = ndimage.gaussian_filter(noise_free_hu(labels), BLUR_SIGMA_VOXELS, mode="nearest")
    in_plane = np.zeros((1, 3, 3), dtype=bool)
    in_plane[0] = ndimage.generate_binary_structure(2, 1)
    noisy = ndimage.binary_dilation(labels > 0, in_plane, iterations=NOISE_MARGIN_VOXELS)
    noise = correlated_noise(labels.shape, rng) * np.float32(NOISE_SD_HU)
    hu = blurred + np.where(noisy, noise, np.float32(0.0))
    return np.clip(np.rint(hu), *HU_RANGE).astype(np.int16)
