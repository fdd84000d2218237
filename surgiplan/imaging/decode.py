"""Decode the stored pixel values of one 2D image into modality values (HU for CT).

Native (uncompressed) images are read straight from their byte offset; compressed images go
through pydicom's pixel backends (the pylibjpeg plugins: JPEG lossless, JPEG-LS, JPEG 2000, RLE).
12-bit JPEG Extended, which those plugins cannot decode, goes through dcmtk's ``dcmdjpeg`` when
it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np
import pydicom
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import UID, ExplicitVRBigEndian

from surgiplan.errors import DicomImportError, UnsupportedTransferSyntaxError
from surgiplan.imaging.headers import ImageRef

JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
DCMDJPEG_SYNTAXES = {"1.2.840.10008.1.2.4.50", JPEG_EXTENDED}


def stored_dtype(image: ImageRef) -> np.dtype:
    """Numpy dtype of the stored values (sign and width from the header, native byte order)."""
    width = {8: 1, 16: 2, 32: 4}.get(image.bits_allocated)
    if width is None:
        raise DicomImportError(
            f"{image.bits_allocated}-bit pixels are not supported ({image.path})"
        )
    return np.dtype(f"{'i' if image.pixel_representation else 'u'}{width}")


def _fix_bits(values: np.ndarray, image: ImageRef) -> np.ndarray:
    """Mask unused high bits, or sign-extend, when BitsStored < BitsAllocated."""
    unused = image.bits_allocated - image.bits_stored
    if unused <= 0:
        return values
    if image.pixel_representation:
        np.left_shift(values, unused, out=values)
        np.right_shift(values, unused, out=values)
        return values
    np.bitwise_and(values, (1 << image.bits_stored) - 1, out=values)
    return values


def _read_native(image: ImageRef) -> np.ndarray:
    dtype = stored_dtype(image)
    if UID(image.transfer_syntax) == ExplicitVRBigEndian:
        dtype = dtype.newbyteorder(">")
    count = image.rows * image.columns
    values = np.fromfile(image.path, dtype=dtype, count=count, offset=image.pixel_offset)
    if values.size != count:
        raise DicomImportError(f"pixel data cut short in {os.path.basename(image.path)}")
    if not values.dtype.isnative:
        values = values.byteswap().view(values.dtype.newbyteorder("="))
    return _fix_bits(values, image).reshape(image.rows, image.columns)


def _dcmtk_missing_message(syntax: str) -> str:
    return (
        f"{UID(syntax).name} ({syntax}) cannot be decoded by the installed codecs: install "
        "dcmtk (apt-get install dcmtk) for its dcmdjpeg, or convert the series to an "
        "uncompressed syntax"
    )


def decoding_problem(image: ImageRef) -> str | None:
    """Why ``image`` cannot be decoded on this machine (syntax and remedy), or ``None``."""
    syntax = image.transfer_syntax
    if image.pixel_offset is not None:
        return None
    if syntax in DCMDJPEG_SYNTAXES and image.bits_stored > 8:
        return None if shutil.which("dcmdjpeg") else _dcmtk_missing_message(syntax)
    try:
        available = get_decoder(UID(syntax)).is_available
    except (NotImplementedError, ValueError):
        available = False
    if available:
        return None
    return (f"no decoder for {UID(syntax).name} ({syntax}) is installed: install the pylibjpeg "
            "plugins (pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg "
            "pylibjpeg-rle) or convert the series to an uncompressed syntax")


def _decode_with_dcmtk(image: ImageRef) -> np.ndarray:
    tool = shutil.which("dcmdjpeg")
    if tool is None:
        raise UnsupportedTransferSyntaxError(_dcmtk_missing_message(image.transfer_syntax))
    with tempfile.TemporaryDirectory(prefix="surgiplan-") as tmp:
        out = os.path.join(tmp, "decoded.dcm")
        result = subprocess.run([tool, image.path, out], capture_output=True, timeout=120)
        if result.returncode != 0 or not os.path.exists(out):
            raise DicomImportError(
                f"dcmdjpeg could not decode {os.path.basename(image.path)}: "
                f"{result.stderr.decode(errors='replace').strip()[:200]}"
            )
        return _frame(pydicom.dcmread(out), image)


def _frame(ds: pydicom.Dataset, image: ImageRef) -> np.ndarray:
    values = pixel_array(ds, index=image.frame) if image.frame is not None else ds.pixel_array
    return np.asarray(values).reshape(image.rows, image.columns)


def _decode_compressed(image: ImageRef, dataset: pydicom.Dataset | None) -> np.ndarray:
    if image.transfer_syntax in DCMDJPEG_SYNTAXES and image.bits_stored > 8:
        return _decode_with_dcmtk(image)
    try:
        if dataset is not None:
            return _frame(dataset, image)
        if image.frame is not None:
            return np.asarray(pixel_array(image.path, index=image.frame))
        return np.asarray(pixel_array(image.path))
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        if image.transfer_syntax in DCMDJPEG_SYNTAXES:
            return _decode_with_dcmtk(image)
        raise UnsupportedTransferSyntaxError(
            f"cannot decode {UID(image.transfer_syntax).name} in "
            f"{os.path.basename(image.path)}: {str(exc).splitlines()[0][:160]}"
        ) from exc


def decode_stored(image: ImageRef, dataset: pydicom.Dataset | None = None) -> np.ndarray:
    """Stored values of one image, shape (rows, columns), before rescale.

    Parameters
    ----------
    image : ImageRef
        The image (file and frame) to decode.
    dataset : pydicom.Dataset, optional
        The already-read full dataset of a multi-frame file, to avoid re-reading it per frame.
    """
    if image.pixel_offset is not None:
        return _read_native(image)
    return _decode_compressed(image, dataset)


def needs_inversion(image: ImageRef) -> bool:
    """MONOCHROME1 images without a physical rescale are inverted so that bright means high."""
    physical = image.modality == "CT" or image.rescale_slope != 1 or image.rescale_intercept != 0
    return image.photometric == "MONOCHROME1" and not physical


def _integer_rescale(values: np.ndarray, intercept: int, out: np.ndarray) -> bool:
    """``out = values + intercept`` in ``out``'s integer type, if every value fits."""
    if values.size == 0:
        return True
    info = np.iinfo(out.dtype)
    low, high = int(values.min()), int(values.max())
    if low + intercept < info.min or high + intercept > info.max:
        return False
    if intercept == 0:
        np.copyto(out, values, casting="unsafe")
    elif values.dtype.itemsize < 8 and info.min <= low and high <= info.max:
        np.add(values.astype(out.dtype, copy=False), intercept, out=out, casting="unsafe")
    else:
        np.add(values, np.int32(intercept), out=out, casting="unsafe")
    return True


def to_modality_values(stored: np.ndarray, image: ImageRef, out: np.ndarray) -> bool:
    """Write ``stored * slope + intercept`` into ``out``; ``False`` if it does not fit its dtype.

    Parameters
    ----------
    stored : (rows, columns) ndarray
        Stored values from :func:`decode_stored`.
    image : ImageRef
        Supplies rescale slope, intercept and photometric interpretation.
    out : (rows, columns) ndarray
        Destination slice (int16 or float32).
    """
    values = stored
    if needs_inversion(image):
        low = -(1 << (image.bits_stored - 1)) if image.pixel_representation else 0
        high = low + (1 << image.bits_stored) - 1
        values = (low + high) - values.astype(np.int64)
    if np.issubdtype(out.dtype, np.integer):
        return _integer_rescale(values, int(round(image.rescale_intercept)), out)
    np.multiply(values, image.rescale_slope, out=out, casting="unsafe")
    out += image.rescale_intercept
    return True


def modality_image(image: ImageRef) -> np.ndarray:
    """Modality values (rows, columns) float32 of one image, e.g. a single scout or test image."""
    out = np.empty((image.rows, image.columns), dtype=np.float32)
    to_modality_values(decode_stored(image), image, out)
    return out
