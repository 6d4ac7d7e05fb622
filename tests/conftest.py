"""Shared fixtures: the bundled example photos (CC BY 4.0, see cyclegan_biz/examples/ATTRIBUTION.md) and a photo
without a face. Everything here works offline."""

from __future__ import annotations

import os

# Quieten mediapipe (glog) and TensorFlow Lite before anything imports them.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import cyclegan_biz  # noqa: E402, F401 - before any test module imports torch: it sets OMP_WAIT_POLICY

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "cyclegan_biz" / "examples"
SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """ONNX exports go to this test session's own folder, never the user's ~/.cache/cyclegan-biz: no export made by
    another checkout is reused, and two runs at once share no file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path_factory.mktemp("cyclegan-biz-cache")))
        yield


@pytest.fixture(scope="session")
def load_script():
    """``load_script("evaluate")``: ``scripts/evaluate.py`` as a module (``scripts/`` is not a package)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def example_photos() -> list[Path]:
    """The 4 example portraits (384x512 JPEGs, one face each, upright, no EXIF orientation)."""
    photos = sorted(EXAMPLES_DIR.glob("canada-*.jpg"))
    assert len(photos) == 4, f"expected 4 example photos in {EXAMPLES_DIR}, found {len(photos)}"
    return photos


@pytest.fixture(scope="session")
def _example_rgb_cached(example_photos: list[Path]) -> np.ndarray:
    from cyclegan_biz.imageio import load_rgb_array

    return load_rgb_array(example_photos[0])


@pytest.fixture
def example_rgb(_example_rgb_cached: np.ndarray) -> np.ndarray:
    """One upright RGB uint8 portrait (HxWx3, 512x384), a fresh copy per test."""
    return _example_rgb_cached.copy()


@pytest.fixture(scope="session")
def no_face_rgb() -> np.ndarray:
    """A smooth synthetic landscape (sky gradient, sun, rolling hills), 320x240 RGB uint8: no face anywhere."""
    width, height = 320, 240
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 80 * y / height, 150 + 60 * y / height, 235 - 20 * y / height], axis=-1)
    image = sky
    sun = (x - 0.78 * width) ** 2 + (y - 0.22 * height) ** 2 < (0.07 * width) ** 2
    image[sun] = (250, 230, 120)
    hills = y > height * (0.62 + 0.08 * np.sin(x / width * 2 * np.pi * 1.5))
    shade = (y / height)[..., None]
    image = np.where(hills[..., None], np.array([60, 140, 60]) * (1.2 - 0.5 * shade), image)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def no_face_image(tmp_path: Path, no_face_rgb: np.ndarray) -> Path:
    """A PNG (in tmp_path) of a synthetic landscape: readable, but no face in it."""
    path = tmp_path / "landscape.png"
    Image.fromarray(no_face_rgb).save(path)
    return path
