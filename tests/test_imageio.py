"""Reading photos: EXIF orientation, colour modes, size limits and unreadable input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclegan_biz import imageio
from cyclegan_biz.errors import ImageTooLargeError, UnreadableImageError
from cyclegan_biz.imageio import load_image, load_rgb_array, to_rgb

ORIENTATION = 0x0112


def assert_rgb_uint8(array: np.ndarray, shape: tuple[int, int]) -> None:
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.uint8
    assert array.shape == (*shape, 3)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels but carries no image data (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# --- EXIF orientation --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),  # camera held turned: the viewer must turn it 90 degrees clockwise
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(tmp_path, example_rgb, orientation, stored_as):
    upright = Image.fromarray(example_rgb)
    stored = upright.transpose(stored_as)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / f"turned-{orientation}.jpg"
    stored.save(path, quality=95, exif=exif)
    with Image.open(path) as check:
        assert check.getexif()[ORIENTATION] == orientation
        assert check.size == stored.size
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, example_rgb.shape[:2])  # 512 x 384: portrait again
    assert mean_abs_diff(loaded, example_rgb) < 4  # same content, up to JPEG noise
    # Not merely the right shape: a wrong turn (e.g. 180 degrees off) looks very different.
    assert mean_abs_diff(loaded[::-1, ::-1], example_rgb) > 4 * mean_abs_diff(loaded, example_rgb)


def test_exif_orientation_is_applied_before_shrinking(tmp_path, example_rgb):
    stored = Image.fromarray(example_rgb).transpose(Image.Transpose.ROTATE_90)  # 512 wide, 384 high
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "turned.jpg"
    stored.save(path, exif=exif)
    assert load_image(path, max_side=256).size == (192, 256)  # portrait, long side 256


# --- colour modes ------------------------------------------------------------------------------------------------
def test_grayscale_loads_as_rgb(tmp_path, example_rgb):
    gray = Image.fromarray(example_rgb).convert("L")
    path = tmp_path / "gray.png"
    gray.save(path)
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, example_rgb.shape[:2])
    expected = np.asarray(gray)
    for channel in range(3):
        np.testing.assert_array_equal(loaded[..., channel], expected)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = (200, 30, 10)
    rgba[:, :20, 3] = 0  # transparent: white
    rgba[:, 20:40, 3] = 128  # half: blend
    rgba[:, 40:, 3] = 255  # opaque: the colour
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, (40, 60))
    assert (loaded[:, :20] == 255).all()
    assert (loaded[:, 40:] == (200, 30, 10)).all()
    blend = loaded[:, 20:40].reshape(-1, 3).astype(int)
    np.testing.assert_allclose(blend, np.broadcast_to([228, 142, 132], blend.shape), atol=2)
    # The same from an RGBA array and from LA.
    assert (load_rgb_array(rgba)[:, :20] == 255).all()
    la = Image.fromarray(np.ascontiguousarray(rgba[..., [0, 3]]))
    assert (np.asarray(to_rgb(la))[:, :20] == 255).all()


def test_palette_images_load_as_rgb(tmp_path, example_rgb):
    palette = Image.fromarray(example_rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    path = tmp_path / "palette.png"
    palette.save(path)
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, example_rgb.shape[:2])
    np.testing.assert_array_equal(loaded, np.asarray(palette.convert("RGB")))
    assert mean_abs_diff(loaded, example_rgb) < 10


def test_palette_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (30, 30), 0)
    image.putpalette([10, 20, 30] + [0, 0, 200] + [0] * (254 * 3))
    image.paste(1, (15, 0, 30, 30))
    path = tmp_path / "transparent.gif"
    image.save(path, transparency=0)
    loaded = load_rgb_array(path)
    assert (loaded[:, :15] == 255).all()
    assert (loaded[:, 15:] == (0, 0, 200)).all()


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_loads_as_rgb(tmp_path, suffix):
    cmyk = Image.new("CMYK", (48, 32), (255, 0, 0, 0))  # pure cyan
    cmyk.paste((0, 0, 0, 255), (24, 0, 48, 32))  # black
    path = tmp_path / f"cmyk{suffix}"
    cmyk.save(path)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, (32, 48))
    np.testing.assert_allclose(loaded[4:-4, 4:20].reshape(-1, 3), [[0, 255, 255]] * (24 * 16), atol=12)
    assert loaded[4:-4, 28:-4].max() < 12


def test_16_bit_grayscale_is_scaled_to_8_bit(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1))
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)  # uint16 -> mode I;16
    with Image.open(path) as check:
        assert check.mode in ("I;16", "I")
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, (16, 64))
    np.testing.assert_allclose(loaded[..., 0], ramp / 65535 * 255, atol=1)
    assert loaded[0, 0, 0] == 0 and loaded[0, -1, 0] == 255
    assert (loaded[..., 0] == loaded[..., 2]).all()


def test_other_modes_load_as_rgb():
    for image in (Image.new("1", (8, 8), 1), Image.new("F", (8, 8), 100.0), Image.new("I", (8, 8), 300),
                  Image.new("YCbCr", (8, 8), (128, 128, 128))):
        loaded = load_rgb_array(image)
        assert_rgb_uint8(loaded, (8, 8))


def test_heic_loads_as_rgb(tmp_path, example_rgb):
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "photo.heic"
    pillow_heif.from_pillow(Image.fromarray(example_rgb)).save(path, quality=90)
    loaded = load_rgb_array(path)
    assert_rgb_uint8(loaded, example_rgb.shape[:2])
    assert mean_abs_diff(loaded, example_rgb) < 6


# --- size --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> Path:
    """6000 x 5000: red left half, blue right half."""
    array = np.zeros((5000, 6000, 3), np.uint8)
    array[:, :3000] = (220, 20, 20)
    array[:, 3000:] = (20, 20, 220)
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    Image.fromarray(array).save(path, quality=70)
    return path


def test_huge_image_is_shrunk_to_max_side(huge_jpeg):
    default = load_image(huge_jpeg)
    assert default.mode == "RGB"
    assert max(default.size) == imageio.DEFAULT_MAX_SIDE
    assert default.size == (4096, 3413)
    small = load_rgb_array(huge_jpeg, max_side=600)
    assert_rgb_uint8(small, (500, 600))
    assert mean_abs_diff(small[:, :290], np.array([220, 20, 20])) < 6
    assert mean_abs_diff(small[:, 310:], np.array([20, 20, 220])) < 6


def test_small_images_are_not_enlarged(example_rgb):
    assert load_rgb_array(example_rgb, max_side=4096).shape == example_rgb.shape
    assert load_rgb_array(example_rgb, max_side=None).shape == example_rgb.shape


def test_decompression_bomb_header_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(30_000, 30_000))  # 900 MP claimed, 60 bytes on disk
    with pytest.raises(ImageTooLargeError, match="too many pixels"):
        load_image(path)
    with pytest.raises(ImageTooLargeError):
        load_image(path.read_bytes())
    # Just above the limit (warning range of PIL, below its hard error) is refused too.
    path.write_bytes(png_header_only(11_000, 11_000))
    with pytest.raises(ImageTooLargeError):
        load_image(path)


def test_decode_limit_is_configurable(tmp_path, example_rgb, monkeypatch):
    path = tmp_path / "photo.png"
    Image.fromarray(example_rgb).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    monkeypatch.setattr(imageio, "MAX_DECODE_PIXELS", 100_000)  # the photo has 196,608
    with pytest.raises(ImageTooLargeError, match="100,000"):
        load_image(path)
    with pytest.raises(ImageTooLargeError):
        load_image(example_rgb)  # arrays and PIL images are checked too
    monkeypatch.setattr(imageio, "MAX_DECODE_PIXELS", 200_000)
    assert load_image(path).size == (384, 512)


# --- unreadable input --------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(UnreadableImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(UnreadableImageError):
        load_image(str(tmp_path))  # a folder


@pytest.mark.parametrize("content", [b"", b"hello, this is not a picture\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_non_image_files(tmp_path, content):
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(UnreadableImageError, match="not a readable image"):
        load_image(path)
    with pytest.raises(UnreadableImageError):
        load_image(content)


def test_truncated_jpeg(tmp_path, example_photos):
    data = example_photos[0].read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(UnreadableImageError):
        load_image(path)


def test_bad_arrays():
    with pytest.raises(UnreadableImageError):
        load_image(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(UnreadableImageError):
        load_image(np.zeros((2, 8, 8, 3), np.uint8))


# --- other inputs ------------------------------------------------------------------------------------------------
def test_inputs_of_every_kind_agree(example_photos, example_rgb):
    path = example_photos[0]
    from_path = load_rgb_array(path)
    np.testing.assert_array_equal(from_path, example_rgb)
    np.testing.assert_array_equal(load_rgb_array(str(path)), from_path)
    np.testing.assert_array_equal(load_rgb_array(path.read_bytes()), from_path)
    with Image.open(path) as pil:
        np.testing.assert_array_equal(load_rgb_array(pil), from_path)
    np.testing.assert_array_equal(load_rgb_array(from_path), from_path)
    gray = load_rgb_array(from_path[..., 1])
    assert_rgb_uint8(gray, from_path.shape[:2])


def test_pil_input_is_not_modified(example_rgb):
    pil = Image.fromarray(example_rgb)
    load_image(pil, max_side=100)
    assert pil.size == (384, 512) and pil.mode == "RGB"


def test_bytes_buffer_round_trip(example_rgb):
    buffer = io.BytesIO()
    Image.fromarray(example_rgb).save(buffer, format="PNG")
    np.testing.assert_array_equal(load_rgb_array(buffer.getvalue()), example_rgb)
