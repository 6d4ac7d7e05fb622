"""The outfit format, the shipped wardrobe and the catalogue (fast, offline: no model runs here)."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.wardrobe.catalogue import (
    DEFAULT_OUTFITS,
    UnknownOutfitError,
    choose_outfit,
    get_outfit,
    list_outfits,
    load_wardrobe,
)
from cyclegan_biz.wardrobe.outfit import ANCHOR_NAMES, Outfit, layers_loaded, read_outfits, write_outfits
from cyclegan_biz.wardrobe.vocabulary import ATTIRE_CHOICES, ATTIRES, attire_for_gender, check_attire


def _synthetic_outfit(outfit_id: str = "suit-test-01", yaw: float = 0.3, light: float = -0.5) -> Outfit:
    rng = np.random.default_rng(0)
    clothes = rng.integers(0, 256, (40, 30, 4), dtype=np.uint8)
    skin = rng.integers(0, 256, (40, 30, 4), dtype=np.uint8)
    anchors = {name: (float(3 + i), float(5 + 2 * i)) for i, name in enumerate(ANCHOR_NAMES)}
    return Outfit(outfit_id, "suit", "navy", "white", True, clothes, skin, anchors, face_size=20.0, yaw=yaw,
                  light=light, source="test", file="x.jpg", licence="public domain", attribution="test photo")


def test_vocabulary():
    assert set(ATTIRES) == {"suit", "blazer"} and ATTIRE_CHOICES[0] == "auto"
    assert attire_for_gender("female") == "blazer" and attire_for_gender("Male") == "suit"
    assert attire_for_gender("") is None and attire_for_gender(None) is None
    assert check_attire("auto") == "auto"
    with pytest.raises(ValueError, match="suit"):
        check_attire("auto", allow_auto=False)


def test_mirrored_is_an_involution_and_swaps_sides():
    outfit = _synthetic_outfit()
    mirrored = outfit.mirrored()
    assert np.array_equal(mirrored.clothes, outfit.clothes[:, ::-1])
    assert mirrored.yaw == -outfit.yaw and mirrored.light == -outfit.light
    # The left shoulder of the mirror image is the flipped right shoulder.
    width = outfit.size[0]
    assert mirrored.anchors["shoulder_left"] == (width - 1 - outfit.anchors["shoulder_right"][0],
                                                  outfit.anchors["shoulder_right"][1])
    back = mirrored.mirrored()
    assert np.array_equal(back.clothes, outfit.clothes) and np.array_equal(back.skin, outfit.skin)
    assert back.anchors == outfit.anchors and back.yaw == outfit.yaw and back.light == outfit.light


def test_write_read_round_trip(tmp_path):
    outfit = _synthetic_outfit()
    write_outfits([outfit], tmp_path)
    (loaded,) = read_outfits(tmp_path)
    assert loaded.record() == outfit.record()
    assert loaded.clothes.shape == outfit.clothes.shape and loaded.clothes.dtype == np.uint8
    assert np.array_equal(loaded.clothes[..., 3], outfit.clothes[..., 3])  # WebP keeps alpha losslessly
    assert "x.jpg" in (tmp_path / "ATTRIBUTION.md").read_text()


def test_reading_a_wardrobe_decodes_layers_only_on_use(tmp_path):
    outfit = _synthetic_outfit()
    write_outfits([outfit, _synthetic_outfit("suit-test-02")], tmp_path)
    first, second = read_outfits(tmp_path)
    assert not layers_loaded(first) and not layers_loaded(second)  # the index only: a fast cold start
    assert first.id == "suit-test-01" and first.yaw == outfit.yaw
    assert np.array_equal(first.skin[..., 3], outfit.skin[..., 3]) and first.clothes.shape == outfit.clothes.shape
    assert layers_loaded(first) and not layers_loaded(second)
    assert layers_loaded(_synthetic_outfit())  # built in memory: nothing to decode


def test_rebuilding_removes_stale_layers_only(tmp_path):
    write_outfits([_synthetic_outfit(), _synthetic_outfit("suit-test-02")], tmp_path)
    (tmp_path / "notes.webp").write_bytes(b"not ours")
    write_outfits([_synthetic_outfit("suit-test-02")], tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.webp")) == ["notes.webp", "suit-test-02-skin.webp",
                                                               "suit-test-02.webp"]
    assert [o.id for o in read_outfits(tmp_path)] == ["suit-test-02"]


@pytest.fixture(scope="module")
def wardrobe() -> list[Outfit]:
    return load_wardrobe()


def test_every_shipped_outfit_loads(wardrobe):
    assert wardrobe, "the package ships no outfits"
    assert len({o.id for o in wardrobe}) == len(wardrobe)
    for outfit in wardrobe:
        height, width = outfit.clothes.shape[:2]
        assert outfit.clothes.shape == (height, width, 4) and outfit.skin.shape == (height, width, 4)
        assert outfit.attire in ATTIRES and outfit.colour and outfit.shirt
        assert outfit.licence and outfit.attribution and outfit.file
        assert set(outfit.anchors) == set(ANCHOR_NAMES)
        for name, (x, y) in outfit.anchors.items():
            assert 0 <= x < width and 0 <= y < height, (outfit.id, name, x, y)
        # Clothes and skin are cut, not the whole photo: the top rows (eyes) are transparent.
        assert outfit.clothes[: int(outfit.anchors["chin"][1]), :, 3].max() == 0
        assert outfit.clothes[..., 3].mean() > 40
        assert outfit.anchors["shoulder_left"][0] < outfit.anchors["shoulder_right"][0]
        assert outfit.anchors["shoulder_left"][1] > outfit.anchors["chin"][1]


def test_shipped_wardrobe_size_and_credits():
    from cyclegan_biz.wardrobe.catalogue import OUTFITS_DIR

    assert sum(f.stat().st_size for f in OUTFITS_DIR.iterdir()) <= 10_000_000
    credits = (OUTFITS_DIR / "ATTRIBUTION.md").read_text()
    for row in list_outfits():
        assert row["id"] in credits and row["credit"]


def test_list_outfits_filters_by_attire(wardrobe):
    rows = list_outfits("blazer")
    assert rows and all(row["attire"] == "blazer" for row in rows)
    assert len(list_outfits()) == len(wardrobe)


@pytest.mark.parametrize("attire", ATTIRES)
def test_choose_outfit_respects_attire(attire):
    outfit = choose_outfit(attire)
    assert outfit.attire == attire
    assert outfit.id in DEFAULT_OUTFITS[attire]


def test_choose_outfit_mirrors_to_match_head_turn():
    base = choose_outfit("suit")
    turned = choose_outfit("suit", yaw=-np.sign(base.yaw or 1.0))
    assert turned.id in DEFAULT_OUTFITS["suit"]
    assert np.sign(turned.yaw) == -np.sign(base.yaw or 1.0)  # one of the defaults, mirrored if need be
    twin = get_outfit(turned.id)
    if twin.yaw != turned.yaw:
        assert np.array_equal(turned.clothes, twin.clothes[:, ::-1])


def test_removed_outfits_are_gone_and_defaults_exist(wardrobe):
    ids = {o.id for o in wardrobe}
    for attire, defaults in DEFAULT_OUTFITS.items():
        assert defaults and all(i in ids and i.startswith(attire) for i in defaults)
    files = {o.file.split("/")[-1] for o in wardrobe}
    # cut from portraits whose outfits looked wrong fitted on people (see chosen.txt)
    for removed in ("Andrew_Bowie", "Imogen_Walker", "Lillian_Jones", "Caroline_Voaden"):
        assert f"{removed}_Portrait.webp" not in files
    counts = {attire: sum(o.attire == attire for o in wardrobe) for attire in ATTIRES}
    assert counts["suit"] >= 24 and counts["blazer"] >= 16


def test_shipped_suits_cover_the_range_of_colours(wardrobe):
    suits = [o for o in wardrobe if o.attire == "suit"]
    assert {"navy", "charcoal", "black", "grey", "brown"} <= {o.colour for o in suits}
    assert {"white", "light blue"} <= {o.shirt for o in suits}
    assert {True, False} == {o.tie for o in suits}
    recoloured = {o.id for o in wardrobe if o.changes}
    assert {o.id for o in wardrobe if o.colour == "brown"} <= recoloured  # no brown portrait could be cut
    for outfit in wardrobe:  # a change is said wherever the outfit is credited
        assert ("recoloured" in outfit.credit()) == (outfit.id in recoloured), outfit.id


def test_credit_names_the_source_and_any_change():
    outfit = _synthetic_outfit()
    assert outfit.credit() == "test photo"
    outfit.changes = "jacket recoloured brown"
    assert outfit.credit() == "test photo, jacket recoloured brown"
    outfit.attribution = ""
    assert outfit.credit() == "test (public domain), jacket recoloured brown"


def test_loading_the_catalogue_decodes_no_layer():
    from cyclegan_biz.wardrobe.catalogue import OUTFITS_DIR

    outfits = read_outfits(OUTFITS_DIR)
    assert not any(layers_loaded(o) for o in outfits)
    rows = list_outfits()
    assert len(rows) == len(outfits)


def test_unknown_outfits_and_attires_are_user_errors():
    with pytest.raises(UnknownOutfitError, match="cyclegan-biz outfits"):
        get_outfit("tuxedo-gold-99")
    assert issubclass(UnknownOutfitError, CycleBizError)
    with pytest.raises(ValueError):
        choose_outfit("kilt")
    with pytest.raises(UnknownOutfitError):
        choose_outfit("suit", colour="gold")
    suit = get_outfit(DEFAULT_OUTFITS["suit"][0])
    assert suit.attire == "suit"
