"""Compositing helpers of the headshot pipeline: output framing, colours, the face paste-back and the background.

Everything works on HxWx3 uint8 RGB arrays in the output frame unless said otherwise. No torch here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ImageColor

from .errors import InvalidOptionError
from .vision.geometry import CANONICAL_FACE_SIZE, Framing
from .vision.landmarks import Face, face_mask

# A neutral, slightly cool light studio grey.
DEFAULT_BACKGROUND = (197, 199, 201)
NAMED_BACKGROUNDS = {
    "studio-grey": DEFAULT_BACKGROUND, "studio-gray": DEFAULT_BACKGROUND, "studio": DEFAULT_BACKGROUND,
    "light-grey": (220, 221, 223), "light-gray": (220, 221, 223),
    "dark-grey": (92, 96, 102), "dark-gray": (92, 96, 102),
    "office-blue": (176, 196, 214),
}
def parse_color(value: str | tuple | list) -> tuple[int, int, int]:
    """A colour as RGB: a CSS/X11 name ("white", "navy"), a preset ("studio-grey", "office-blue"), hex ("#c5c7c9",
    "c5c7c9", "#ccc"), "rgb(1,2,3)", "R,G,B", or a 3-sequence of 0-255 ints."""
    if isinstance(value, (tuple, list, np.ndarray)):
        values = list(value)
        if len(values) == 3 and all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
            return (int(values[0]), int(values[1]), int(values[2]))
        raise InvalidOptionError(f"Background colour {value!r}: give three integers between 0 and 255.")
    if not isinstance(value, str):
        raise InvalidOptionError(f"Background colour {value!r}: give a name, #rrggbb or R,G,B.")
    text = value.strip().lower()
    if text in NAMED_BACKGROUNDS:
        return NAMED_BACKGROUNDS[text]
    if re.fullmatch(r"\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}", text):
        return parse_color([int(v) for v in text.split(",")])
    if re.fullmatch(r"[0-9a-f]{3}|[0-9a-f]{6}", text):
        text = "#" + text
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise InvalidOptionError(
            f"Unknown background colour {value!r}. Use a name (white, lightgray, navy, studio-grey), "
            "a hex code (#c5c7c9) or R,G,B (197,199,201)."
        ) from None
    return parse_color(list(rgb[:3]))  # "rgb(300,0,0)" parses, but is no colour: the range check refuses it


def upsample(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Enlarge a canvas to ``width`` x ``height`` (bicubic; the pixel convention of ``Framing.resized``)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


# --- face paste-back -------------------------------------------------------------------------------------------------
@dataclass
class FaceBlend:
    """How the original face goes back in, all in output pixels. ``core_radius``: the face mask eroded by this many
    pixels is copied exactly (alpha 1)."""

    erode: float
    sigma: float
    core_radius: float

    @classmethod
    def for_face_size(cls, face_size: float) -> FaceBlend:
        sigma = max(1.0, 0.012 * face_size)
        erode = 2.5 * sigma + 2  # the feather fades out just inside the face outline
        return cls(erode, sigma, erode + 2.5 * sigma)


def inner_distance(mask: np.ndarray) -> np.ndarray:
    """Distance (float32 px) of each pixel of a 0/1 mask to the nearest 0 pixel: ``> r`` is the mask eroded by r.

    Exact by construction: a Euclidean distance between pixels is the root of a whole number, but OpenCV's precise
    transform returns it with a last-bit error that depends on the output buffer's memory alignment (7.0 or
    7.0000005), which flipped pixels at a threshold of exactly 7 from run to run. Rounding the squared distance to
    the whole number it must be makes the result the same on every run, thread and machine."""
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    squared = np.rint(np.square(distance, dtype=np.float64))
    return np.sqrt(squared).astype(np.float32)


def face_alpha(mask: np.ndarray, blend: FaceBlend) -> np.ndarray:
    """Feathered float32 alpha of a 0/1 face mask: exactly 1 on the core, fading to 0 near the outline."""
    depth = inner_distance(mask)
    alpha = cv2.GaussianBlur((depth > blend.erode).astype(np.float32), (0, 0), blend.sigma)
    alpha[depth > blend.core_radius] = 1.0
    alpha[alpha < 1e-3] = 0.0
    return alpha


def _box_around(points: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + margin).astype(int)
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def match_colours(generated: np.ndarray, source: np.ndarray, mask: np.ndarray, face_size: float) -> np.ndarray:
    """Shift the low frequencies of ``generated`` toward ``source`` around the face, at the model's resolution.

    ``source``: the generator's input (the photo); ``mask``: 0/1 face mask (0 on padding); ``face_size`` in pixels.
    The colour difference inside the face is smoothed, extended outward (normalised convolution), kept in full up to
    0.2 face sizes from the face and faded out to nothing at 0.6, so skin next to the pasted face (forehead, neck,
    ears) matches it and the seam does not show, while the suit and the hair further away keep the generator's
    colours. Returns a new uint8 image.
    """
    if not mask.any():
        return generated
    sigma, inner, reach = 0.08 * face_size, 0.2 * face_size, 0.6 * face_size
    weights = mask.astype(np.float32)
    diff = cv2.subtract(source, generated, dtype=cv2.CV_32F) * weights[..., None]
    num = cv2.GaussianBlur(diff, (0, 0), sigma)
    den = cv2.GaussianBlur(weights, (0, 0), sigma)
    mean = diff.reshape(-1, 3).sum(axis=0) / max(float(weights.sum()), 1e-6)
    confident = np.clip(den / 0.2, 0, 1)[..., None]  # where the local estimate is thin: the face's mean difference
    smooth = confident * num / np.maximum(den, 1e-6)[..., None] + (1 - confident) * mean
    outside = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    correction = smooth * _smoothstep((reach - outside) / (reach - inner))[..., None]
    return cv2.add(generated, correction.astype(np.float32), dtype=cv2.CV_8U)


def paste_face(canvas: np.ndarray, photo: np.ndarray, face: Face, framing: Framing):
    """Put the original face (``photo`` warped by ``framing``, at full resolution) into ``canvas``, in place.

    ``face``: landmarks in ``photo`` pixels; ``canvas``: the upsampled generator output on ``framing``'s canvas.
    The face core is copied exactly; the rim is feathered (see ``FaceBlend``). Returns ``(alpha, box)``: the
    face's float32 weight on the canvas region ``box`` = (x0, y0, x1, y1), or ``(None, None)`` when nothing was
    pasted.
    """
    height, width = framing.height, framing.width
    out_points = face.transformed(framing.matrix).points
    blend = FaceBlend.for_face_size(CANONICAL_FACE_SIZE * width)  # the canonical frame fixes the face size
    x0, y0, x1, y1 = _box_around(out_points, 2, width, height)
    if x1 <= x0 or y1 <= y0:
        return None, None
    roi = framing.shifted(x0, y0, x1 - x0, y1 - y0)
    original = roi.warp(photo)
    valid = roi.valid_mask(photo.shape)
    mask = face_mask(original.shape, face.transformed(roi.matrix)) * valid
    alpha = face_alpha(mask, blend)
    if not valid.all():
        alpha *= inner_distance(valid) > blend.erode
    if not alpha.any():
        return None, None
    target = canvas[y0:y1, x0:x1]
    target[...] = cv2.blendLinear(original, target, alpha, 1.0 - alpha)
    return alpha, (x0, y0, x1, y1)


# --- background ----------------------------------------------------------------------------------------------------
def soften_person_mask(mask: np.ndarray, low: float = 0.3, high: float = 0.7) -> np.ndarray:
    """Sharpen mediapipe's soft probabilities into a matte: 0 below ``low``, 1 above ``high``, smoothstep between."""
    t = cv2.max(cv2.min((mask.astype(np.float32) - low) * (1.0 / (high - low)), 1.0), 0.0)
    return cv2.multiply(cv2.multiply(t, t), cv2.subtract(3.0, cv2.multiply(t, 2.0)))


def flat_image(height: int, width: int, color: tuple[int, int, int]) -> np.ndarray:
    """An HxWx3 uint8 image of one colour (row by row: much faster than broadcasting a triple)."""
    row = np.tile(np.asarray(color, dtype=np.uint8), (1, width, 1))
    return np.repeat(row, height, axis=0)


def replace_background(image: np.ndarray, person: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """``person`` (float32 0..1, image-sized) keeps the image; elsewhere the flat ``color``; soft in between."""
    flat = flat_image(image.shape[0], image.shape[1], color)
    person = np.ascontiguousarray(person, dtype=np.float32)
    return cv2.blendLinear(image, flat, person, 1.0 - person)
