"""What phone cameras and messaging apps do to a photo: exposure, white balance, blur, low resolution, sensor noise
and JPEG. Used to alter portraits with a known answer (``evaluation.recomposite``) and to train the attire
classifier on the photos users really send (dim rooms, warm lamps, small or blurry faces).

Every function takes and returns HxWx3 uint8 RGB.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

GAMMA = 2.2  # sRGB, roughly: exposure and noise act on linear light
# Bumped whenever what these functions make changes: caches of features of degraded photos are keyed by it.
VERSION = "1"


def exposure(rgb: np.ndarray, stops: float) -> np.ndarray:
    """Brighter (``stops`` > 0) or darker, in linear light."""
    linear = (rgb.astype(np.float32) / 255.0) ** GAMMA * 2.0**stops
    return _to_uint8(linear ** (1 / GAMMA) * 255)


def white_balance(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Each channel scaled (e.g. (1.12, 1.0, 0.86): a warm lamp)."""
    return _to_uint8(rgb.astype(np.float32) * np.asarray(gains, dtype=np.float32))


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), max(0.3, sigma))


def low_resolution(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Shrunk ``factor`` times (area) and enlarged back (bilinear): a small face from a far or cheap camera."""
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(width / factor)), max(1, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise: Gaussian, ``sigma`` grey levels, stronger in the shadows (as after a dark photo is brightened)."""
    shade = 1.5 - rgb.astype(np.float32).mean(axis=-1, keepdims=True) / 255.0
    return _to_uint8(rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32) * shade)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed at quality {quality}")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def random_phone_photo(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random mix of the above, each within what real selfies show: often dim (down to -2.5 stops) or warm or
    cool, sometimes small (down to a fifth) or blurred, always some noise and JPEG."""
    out = rgb
    if rng.random() < 0.5:
        out = exposure(out, rng.uniform(-2.5, -0.5))
    if rng.random() < 0.5:
        warm = rng.uniform(-1.0, 1.0)  # negative: cool daylight/shade, positive: a tungsten lamp
        out = white_balance(out, (1.0 + 0.15 * warm, 1.0, 1.0 - 0.2 * warm))
    if rng.random() < 0.4:
        out = low_resolution(out, rng.uniform(2.0, 5.0))
    elif rng.random() < 0.3:
        out = blur(out, rng.uniform(0.8, 2.0))
    out = noise(out, rng.uniform(1.0, 8.0), rng)
    return jpeg(out, int(rng.integers(35, 90)))


# Fixed conditions to score a model on (each a whole photo in, the same photo spoilt out), e.g. the attire classifier
# on eval/canada: a dim room, warm and cool light, a small face, a blurred photo, and a dim warm JPEG.
CONDITIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "dim": lambda rgb: noise(exposure(rgb, -2.0), 5.0, np.random.default_rng(0)),
    "warm": lambda rgb: white_balance(rgb, (1.15, 1.0, 0.8)),
    "cool": lambda rgb: white_balance(rgb, (0.88, 1.0, 1.15)),
    "small": lambda rgb: low_resolution(rgb, 5.0),
    "blurred": lambda rgb: blur(rgb, 3.0),
    "dim_warm_jpeg": lambda rgb: jpeg(white_balance(noise(exposure(rgb, -1.5), 4.0, np.random.default_rng(0)),
                                                    (1.12, 1.0, 0.85)), 40),
}


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)
