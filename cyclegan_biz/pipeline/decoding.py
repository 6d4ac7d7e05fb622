"""Decoding a photo for the pipeline: big JPEGs at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling), the analysis copy
of at most 1024 px, and the face found on it (``read_photo``)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from PIL import Image

from ..imageio import DEFAULT_MAX_SIDE, MAX_DECODE_PIXELS, ImageInput, decompression_guard, load_image
from ..vision.landmarks import MIN_FACE_SIZE, Face, detect_face


def _open_reduced_jpeg(source: Any, min_long_side: int) -> tuple[Image.Image, int] | None:
    """A big JPEG decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling: much faster than a full decode), keeping
    the long side >= ``min_long_side``. ``None`` when that does not apply; errors are left to ``load_image``."""
    if not isinstance(source, (str, os.PathLike, bytes)):
        return None
    import io

    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError:
        return None
    try:
        with decompression_guard():
            image = Image.open(stream)
            long_side = max(image.size)
            too_big = image.width * image.height > MAX_DECODE_PIXELS
            if image.format != "JPEG" or too_big or long_side < 2 * min_long_side:
                return None
            ratio = min_long_side / long_side
            image.draft("RGB", (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
            image.load()
        return image, long_side
    except Exception:  # noqa: BLE001 - anything odd: the careful full decode reports it properly
        return None
    finally:
        stream.close()


def decode(source: ImageInput, min_long_side: int | None = None) -> tuple[np.ndarray, float]:
    """``(upright RGB uint8 array, scale)``: ``scale`` = decoded size / the photo's size (< 1 for reduced JPEGs and
    for photos above ``imageio.DEFAULT_MAX_SIDE``)."""
    reduced = _open_reduced_jpeg(source, min_long_side) if min_long_side else None
    if reduced is not None:
        image, original_long = reduced
        if image.mode != "RGB" or max(image.size) > DEFAULT_MAX_SIDE or _orientation(image) != 1:
            image = load_image(image, max_side=DEFAULT_MAX_SIDE)  # rotate / convert / shrink as usual
        return np.asarray(image), max(image.size) / original_long
    if isinstance(source, Image.Image):
        original_long = max(source.size)
    elif isinstance(source, np.ndarray):
        original_long = max(source.shape[:2])
    else:
        original_long = None
    image = load_image(source, max_side=DEFAULT_MAX_SIDE)
    if original_long is None:
        return np.asarray(image), 1.0 if max(image.size) < DEFAULT_MAX_SIDE else _original_scale(source, image)
    return np.asarray(image), max(image.size) / original_long


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block: let load_image deal with it
        return -1


def analysis_frame(photo: np.ndarray, max_side: int = 1024) -> tuple[np.ndarray, int]:
    """``(copy reduced by an integer factor k to <= max_side, k)``; integer factors make cv2's area resize fast."""
    height, width = photo.shape[:2]
    k = math.ceil(max(height, width) / max_side)
    if k <= 1:
        return photo, 1
    import cv2

    h, w = height // k, width // k
    return cv2.resize(photo[: h * k, : w * k], (w, h), interpolation=cv2.INTER_AREA), k


def _original_scale(source: Any, image: Image.Image) -> float:
    """Photos shrunk by ``load_image``'s max_side: how much (reads the header again; rare)."""
    import io

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as header:
            return max(image.size) / max(header.size)
    except Exception:  # noqa: BLE001
        return 1.0


def read_photo(image: ImageInput, needed: float, size: int, lap) -> tuple[np.ndarray, float, Face, np.ndarray, Face]:
    """``(photo, scale, face, small, small_face)``: the decoded photo (big JPEGs at a reduced scale that still gives
    the face ``needed`` pixels in an output ``size`` wide), its landmarks, and the analysis copy of at most 1024 px
    (what the mesh uses anyway) with its own landmarks. ``lap(stage)`` records the time of "decode" and "face"."""
    min_long = max(1024, int(1.5 * size))
    photo, scale = decode(image, min_long_side=min_long)
    lap("decode")
    small, k = analysis_frame(photo)
    small_face = detect_face(small, min_face_size=MIN_FACE_SIZE * scale / k)
    face = small_face.scaled(k) if k > 1 else small_face
    lap("face")
    reduced_jpeg = scale < 0.99 and max(photo.shape[:2]) < DEFAULT_MAX_SIDE  # (not a photo shrunk to max_side)
    if face.size() < needed and reduced_jpeg and isinstance(image, (str, os.PathLike, bytes)):
        # The reduced decode would be upscaled: decode again at the resolution the output needs.
        finer, finer_scale = decode(image, min_long_side=int(max(photo.shape[:2]) * needed / face.size()) + 1)
        if finer_scale > scale:
            face = face.scaled(finer_scale / scale)
            photo, scale = finer, finer_scale
        lap("decode")
    return photo, scale, face, small, small_face
