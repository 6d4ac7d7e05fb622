"""What phone cameras do to photos (vision/degrade.py): each spoiling step does what it says, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_biz.vision import degrade


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 128, np.uint8)
    image[::2, ::2] = 200  # fine detail: a 2-pixel checkerboard of dots
    image[32:] = rng.integers(60, 200, (32, 64, 3), dtype=np.uint8)
    return image


def test_exposure_scales_linear_light():
    grey = np.full((4, 4, 3), 186, np.uint8)  # about 0.5 in linear light
    darker = degrade.exposure(grey, -1.0)
    linear = lambda rgb: (rgb.astype(float) / 255) ** degrade.GAMMA  # noqa: E731
    assert np.allclose(linear(darker), linear(grey) / 2, atol=0.01)
    assert degrade.exposure(grey, 0.0).tolist() == grey.tolist()


def test_white_balance_and_blur(photo):
    warm = degrade.white_balance(photo, (1.2, 1.0, 0.8)).astype(float)
    assert warm[..., 0].mean() > photo[..., 0].mean() and warm[..., 2].mean() < photo[..., 2].mean()
    assert np.array_equal(warm[..., 1], photo[..., 1])
    assert np.abs(np.diff(degrade.blur(photo, 1.5)[:16].astype(float), axis=1)).mean() < \
        np.abs(np.diff(photo[:16].astype(float), axis=1)).mean() / 3


def test_low_resolution_loses_fine_detail_and_keeps_the_size(photo):
    small = degrade.low_resolution(photo, 4.0)
    assert small.shape == photo.shape and small.dtype == np.uint8
    assert small[:32].std() < photo[:32].std() / 4  # the dots are gone
    assert abs(float(small[:32].mean()) - float(photo[:32].mean())) < 3  # their average stays


def test_noise_is_stronger_in_the_shadows():
    rng = np.random.default_rng(1)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32], image[:, 32:] = 30, 220
    noisy = degrade.noise(image, 6.0, rng).astype(float) - image
    assert noisy[:, :32].std() > 1.5 * noisy[:, 32:].std() > 0


def test_random_phone_photo_is_reproducible_and_varied(photo):
    first = degrade.random_phone_photo(photo, np.random.default_rng(7))
    again = degrade.random_phone_photo(photo, np.random.default_rng(7))
    assert first.shape == photo.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)
    others = [degrade.random_phone_photo(photo, np.random.default_rng(seed)) for seed in range(8)]
    assert len({o.tobytes() for o in others}) == 8
    assert np.mean([np.abs(o.astype(float) - photo).mean() for o in others]) > 5  # spoilt, not copied


def test_fixed_conditions_are_deterministic_and_spoil(photo):
    for name, condition in degrade.CONDITIONS.items():
        first, again = condition(photo), condition(photo)
        assert first.shape == photo.shape and first.dtype == np.uint8, name
        assert np.array_equal(first, again), name  # a score on them can be repeated
        assert np.abs(first.astype(float) - photo).mean() > 2, name
    assert degrade.CONDITIONS["dim"](photo).mean() < 0.6 * photo.mean()  # -2 stops: about 0.53 in sRGB
