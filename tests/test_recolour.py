"""Recolouring a jacket (the wardrobe's brown suits) on a synthetic jacket, shirt and tie: fast, no models."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_biz.wardrobe.appearance import colour_name, to_lab
from cyclegan_biz.wardrobe.recolour import JACKET_COLOURS, jacket_weight, recolour_jacket


@pytest.fixture(scope="module")
def torso() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A textured grey jacket, a white shirt in the middle, a red tie in the shirt, a grey button (jacket's colour)
    on the shirt that does not touch the jacket."""
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(85, 6, (120, 160, 3)), 0, 255).astype(np.uint8)
    masks = {name: np.zeros((120, 160), bool) for name in ("shirt", "tie", "button", "sides")}
    masks["shirt"][:, 55:105] = True
    masks["tie"][20:, 74:86] = True
    masks["button"][5:10, 60:65] = True
    masks["sides"][60:, :30] = masks["sides"][60:, 130:] = True
    photo[masks["shirt"]] = (235, 236, 240)
    photo[masks["tie"]] = (150, 30, 40)
    photo[masks["button"]] = (85, 85, 85)
    return photo, masks


def test_only_the_jacket_is_recoloured(torso):
    photo, masks = torso
    lab = to_lab(photo)
    clothes = np.ones(photo.shape[:2], bool)
    weight = jacket_weight(lab, clothes, masks["sides"])
    jacket = ~masks["shirt"]
    inner = jacket.copy()
    inner[:, 50:110] = False  # away from the blurred border
    assert weight[inner].min() > 0.95
    assert weight[:, 60:100].max() < 0.05  # shirt and tie
    assert weight[masks["button"]].max() < 0.05  # jacket-coloured, but not connected to the jacket
    out = recolour_jacket(photo, lab, weight, np.median(lab[masks["sides"]], axis=0), "brown")
    out_lab = to_lab(out)
    assert colour_name(np.median(out_lab[inner], axis=0)) == "brown"
    assert np.abs(np.median(out_lab[inner], axis=0) - JACKET_COLOURS["brown"]).max() < 3
    centre = np.zeros_like(jacket)
    centre[:, 60:100] = True
    assert np.array_equal(out[centre], photo[centre])  # shirt, tie and button bit-exact
    # the fabric's texture is kept: lightness varies as much as before
    assert abs(out_lab[inner][:, 0].std() - lab[inner][:, 0].std()) < 0.5


def test_unknown_colour_is_refused(torso):
    photo, masks = torso
    lab = to_lab(photo)
    with pytest.raises(KeyError):
        recolour_jacket(photo, lab, np.ones(photo.shape[:2], np.float32), lab[0, 0], "tartan")
