"""Reading photos safely: EXIF orientation, every colour mode, HEIC, and a decompression-bomb guard."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageTooLargeError, UnreadableImageError

# Decoding more than this is refused outright (a 100-MP photo is already far beyond any phone).
MAX_DECODE_PIXELS = 120_000_000
# After decoding, anything with a longer side than this is shrunk: the headshot never needs more.
DEFAULT_MAX_SIDE = 4096

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray

try:  # HEIC/HEIF from iPhones, when the optional plugin is installed.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional
    pass


@contextlib.contextmanager
def decompression_guard() -> Iterator[None]:
    """Inside: Pillow refuses to open images above ``MAX_DECODE_PIXELS`` (its bomb warning raised as an error)."""
    Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _open(source: str | os.PathLike | bytes) -> Image.Image:
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise UnreadableImageError(f"{name}: no such file. Check the path.")
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with decompression_guard():
            image = Image.open(stream)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLargeError(
            f"{name}: the image has too many pixels to decode safely (limit {MAX_DECODE_PIXELS:,}). "
            "Resize it to at most 4000 px on the long side and try again."
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UnreadableImageError(
            f"{name}: not a readable image ({err.__class__.__name__}). Use a JPEG, PNG, WebP or HEIC photo."
        ) from err
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, F, ...) to 8-bit RGB; alpha is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        high = array.max() if array.size else 0.0
        scale = 255.0 / (65535.0 if high > 255 else max(high, 255.0))
        return Image.fromarray(np.clip(array * scale, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(source: ImageInput, max_side: int | None = DEFAULT_MAX_SIDE) -> Image.Image:
    """Open a photo from a path, bytes, PIL image or HxWx3 uint8 array as upright 8-bit RGB.

    EXIF orientation is applied; images whose longer side exceeds ``max_side`` are shrunk.
    """
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise UnreadableImageError("Arrays must be HxW or HxWxC uint8.")
        image = Image.fromarray(source)
    elif isinstance(source, Image.Image):
        image = source
    else:
        image = _open(source)
    if image.width * image.height > MAX_DECODE_PIXELS:
        raise ImageTooLargeError(
            f"The image has {image.width * image.height:,} pixels (limit {MAX_DECODE_PIXELS:,}). Resize it first."
        )
    with contextlib.suppress(Exception):  # a broken EXIF block must not make the photo unusable
        image = ImageOps.exif_transpose(image)
    image = to_rgb(image)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def load_rgb_array(source: ImageInput, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """``load_image`` as an HxWx3 uint8 array."""
    return np.asarray(load_image(source, max_side))
