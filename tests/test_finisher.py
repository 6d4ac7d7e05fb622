"""The finisher (issue 12): the correction wrapper, the seam band, warm-start pairs and the training entry point."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cyclegan_biz.models import CycleBizFinisher, CycleBizProjectedDiscriminator

FIXTURES = Path(__file__).parent / "fixtures"
TINY = ["--channels", "4", "--blocks", "1", "--working_resolution", "16", "--discriminator_channels", "4",
        "--train_batch_size", "2", "--log_steps", "1", "--checkpointing_steps", "2", "--cpu"]


def _busy_finisher(seed: int = 0) -> CycleBizFinisher:
    """A small finisher whose correction is far from zero (a fresh one starts as the identity)."""
    torch.manual_seed(seed)
    model = CycleBizFinisher(base_channels=4, num_res_blocks=1, working_resolution=16, resolution=32)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    return model.eval()


def _inputs(size: int = 32, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    band = torch.zeros(1, 1, size, size)
    band[..., size // 2:, 8:24] = torch.linspace(0.2, 1.0, size // 2)[:, None]
    face = torch.zeros(1, 1, size, size)
    face[..., 4:14, 10:22] = 1
    person = torch.ones(1, 1, size, size)
    return image, band, face, person


def test_fresh_finisher_is_the_identity():
    image, band, face, person = _inputs()
    model = CycleBizFinisher(base_channels=4, num_res_blocks=1, working_resolution=16, resolution=32)
    assert torch.equal(model(image, band, face, person), image)


def test_correction_only_inside_the_band():
    image, band, face, person = _inputs()
    with torch.no_grad():
        output = _busy_finisher()(image, band, face, person)
    outside = (band == 0).expand_as(image)
    assert torch.equal(output[outside], image[outside])  # bit for bit
    assert (output[~outside] - image[~outside]).abs().mean() > 0.01  # and it does change the band


def test_correction_is_smooth():
    """Predicted at the working resolution (16 px) and upsampled bilinearly to the image (64 px): neighbouring
    pixels of the applied change differ by at most a quarter of the largest step of the low-resolution one."""
    size = 64
    image = torch.zeros(1, 3, size, size)  # mid grey: the change is never clamped
    band, face, person = torch.ones(1, 1, size, size), torch.zeros(1, 1, size, size), torch.ones(1, 1, size, size)
    model = _busy_finisher()
    with torch.no_grad():
        low = model.correction(image, band, face, person)
        applied = model(image, band, face, person) - image
    def largest_step(x):
        return max((x[..., 1:, :] - x[..., :-1, :]).abs().max(), (x[..., 1:] - x[..., :-1]).abs().max())
    assert largest_step(applied) <= largest_step(low) / 4 + 1e-5
    assert applied.abs().max() > 0.1


def test_save_and_load_round_trip(tmp_path):
    model = _busy_finisher()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["_class_name"] == "CycleBizFinisher" and config["working_resolution"] == 16
    loaded = CycleBizFinisher.from_pretrained(tmp_path).eval()
    inputs = _inputs(seed=1)
    with torch.no_grad():
        assert torch.equal(loaded(*inputs), model(*inputs))


@pytest.fixture(scope="module")
def portrait():
    from cyclegan_biz.imageio import load_rgb_array
    from cyclegan_biz.vision.landmarks import detect_face
    from cyclegan_biz.vision.segmentation import person_mask

    photo = load_rgb_array(FIXTURES / "us-congress-A000022.jpg")
    return photo, detect_face(photo, min_face_size=0), person_mask(photo)


def test_seam_band_is_under_the_chin_and_off_the_face(portrait):
    from cyclegan_biz.vision.landmarks import MESH_CHIN, face_mask
    from cyclegan_biz.wardrobe.finishing import composite_band

    photo, face, person = portrait
    band = composite_band(photo, face, person)
    assert band.dtype == np.float32 and band.min() >= 0 and band.max() <= 1
    assert not band[face_mask(photo.shape, face).astype(bool)].any()
    assert not band[person < 0.02].any()
    chin_x, chin_y = face.points[MESH_CHIN]
    below = band[int(chin_y + 0.1 * face.size()), int(chin_x)]
    assert below > 0.5  # the neck right under the chin
    assert not band[: int(face.points[:, 1].min())].any()  # nothing above the face


def test_seam_band_shaped_small_agrees_with_full_size(portrait):
    """A large composite's band is shaped at half size and upsampled (``work_width``): it must be the band the full
    size gives, up to resampling, also where a hard-edged person matte and a head matte's edge cross it."""
    from cyclegan_biz.vision.landmarks import MESH_CHIN
    from cyclegan_biz.wardrobe.finishing import seam_band

    photo, face, _ = portrait
    height, width = photo.shape[:2]
    chin_x, chin_y = face.points[MESH_CHIN]
    size = face.size()
    rows, cols = np.mgrid[0:height, 0:width]
    person = ((cols < chin_x + 0.25 * size) | (rows > chin_y + 0.5 * size)).astype(np.float32)  # a notch at the neck
    person[: int(chin_y - 1.5 * size)] = 0
    head = np.clip(1 - (np.hypot((cols - chin_x) / (0.9 * size), (rows - chin_y + 0.5 * size) / (1.1 * size)) - 1)
                   / 0.15, 0, 1).astype(np.float32)  # a soft oval: hair around the face
    full = seam_band(photo.shape, face, person, head, work_width=width)
    small = seam_band(photo.shape, face, person, head, work_width=width // 2)
    assert full[full > 0.5].size > 1000  # the case has a band worth comparing
    difference = np.abs(full - small)[(full > 0) | (small > 0)]
    assert difference.mean() < 0.04
    assert np.percentile(difference, 99) < 0.2 and difference.max() < 0.3  # the upsampling's error, no more


def test_finish_changes_only_the_band(portrait):
    from cyclegan_biz.wardrobe.finishing import composite_band, finish

    photo, face, person = portrait
    model = _busy_finisher()
    finished = finish(model, photo, face, person)
    band = composite_band(photo, face, person)
    assert np.array_equal(finished[band == 0], photo[band == 0])
    assert np.abs(finished[band > 0.5].astype(int) - photo[band > 0.5]).mean() > 1
    # only the lightness changes: the colour (a*b*) is the composite's, up to 8-bit rounding
    lab_in, lab_out = (cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2LAB) for x in (photo, finished))
    changed = (band > 0.5) & (np.abs(lab_out[..., 0] - lab_in[..., 0]) > 2) & (lab_out[..., 0] > 10) \
        & (lab_out[..., 0] < 90)  # away from black and white, where a*b* clip
    assert changed.sum() > 100
    assert np.median(np.abs(lab_out[..., 1:] - lab_in[..., 1:])[changed]) < 1.5


def test_warm_start_pair_changes_the_head_and_keeps_the_outfit(portrait):
    """input = T(head) over the untouched outfit, target = T(photo): the face is T's in both; the outfit of the
    input is the original's, not T's."""
    from cyclegan_biz.training.finisher_data import warm_start_pair
    from cyclegan_biz.wardrobe.catalogue import load_wardrobe

    photo, face, _ = portrait
    outfit = load_wardrobe()[0]  # the fixture's own outfit cannot be cut (no shoulders): any outfit tests the pair
    pair = warm_start_pair(photo, face, outfit, ("exposure", 0.8), 128)
    plain = warm_start_pair(photo, face, outfit, ("exposure", 0.0), 128)
    inner = (pair["face"] > 0.99)
    inner[int(0.5 * 128):] = False  # the face above the mouth: the seam blend below never reaches it
    head_gap = np.abs(pair["input"][inner].astype(int) - pair["target"][inner]).mean()
    brighter = (pair["target"][inner].astype(int) - plain["target"][inner]).mean()
    assert head_gap < 2 and brighter > 15  # the head is T(head) in input and target alike
    clothes = (pair["outfit"] > 0.99) & (pair["band"] == 0) & (pair["target_person"] > 0.99)
    assert clothes.sum() > 200
    # the outfit is untouched: the input's clothes are as without T, while T brightened the target's
    assert np.abs(pair["input"][clothes].astype(int) - plain["input"][clothes]).mean() < 2
    assert (pair["target"][clothes].astype(int) - plain["target"][clothes]).mean() > 5  # a dark suit: +8 levels
    assert {"band", "face", "person", "outfit", "valid"} <= set(pair)
    # without the neck the fitter paints one; the target is still known there, so the loss reaches below the cut
    cut = warm_start_pair(photo, face, outfit, ("exposure", 0.8), 128, no_neck=True)
    assert np.array_equal(cut["valid"], pair["valid"])
    assert not np.array_equal(cut["input"], pair["input"])


def _tiny_examples(folder: Path, count: int, target: bool, size: int = 32, seed: int = 0) -> Path:
    from cyclegan_biz.training.finisher_data import save_example

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for index in range(count):
        band = np.zeros((size, size), np.float32)
        band[size // 2:, 8:24] = 1
        example = {"input": rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "band": band,
                   "face": np.pad(np.ones((8, 8), np.float32), ((4, size - 12), (12, size - 20))),
                   "person": np.ones((size, size), np.float32), "outfit": band, "valid": np.ones_like(band)}
        if target:
            example.update(target=rng.integers(0, 256, (size, size, 3), dtype=np.uint8), target_person=band)
        save_example(folder / f"photo{index}-0.npz", example, label=index % 3 - 1)
    return folder


def test_finisher_datasets_draw_each_item_from_seed_and_index(tmp_path):
    """The portrait paired with a composite and the flips depend on (seed, epoch, index) only: the same after a
    resume (a fresh dataset) and whatever the order the workers load items in."""
    from cyclegan_biz.training.finisher_data import FinisherExamples, UnpairedFinisherExamples

    composites = _tiny_examples(tmp_path / "composites", 6, target=False, seed=1)
    portraits = _tiny_examples(tmp_path / "portraits", 6, target=False, seed=2)

    def dataset(seed: int = 3) -> UnpairedFinisherExamples:
        return UnpairedFinisherExamples(FinisherExamples(composites, flip=True), FinisherExamples(portraits, flip=True),
                                        seed)

    def same(x: dict, y: dict) -> bool:
        return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)

    first = dataset()
    forward = [first[i] for i in range(len(first))]
    assert all(same(first[i], forward[i]) for i in range(len(first)))  # the same index twice
    resumed = dataset()
    backward = {i: resumed[i] for i in reversed(range(len(resumed)))}  # another order, another object
    assert all(same(backward[i], forward[i]) for i in range(len(first)))
    # and the draws are real: other epochs pair and flip otherwise
    resumed.set_epoch(1)
    assert not all(same(resumed[i], forward[i]) for i in range(len(resumed)))
    flipped = FinisherExamples(portraits, flip=True, seed=3)
    plain = FinisherExamples(portraits)
    flips = [not torch.equal(flipped[i]["input"], plain[i]["input"]) for i in range(len(plain))]
    assert any(flips) and not all(flips)
    assert flips == [not torch.equal(flipped[i]["input"], plain[i]["input"]) for i in range(len(plain))]


def test_train_finisher_warm_start_two_steps_and_resume(tmp_path, load_script):
    train = load_script("train_finisher")
    data = _tiny_examples(tmp_path / "pairs", 10, target=True)
    output = tmp_path / "run"
    train.main(["--warm_start", str(data), "--output_dir", str(output), "--max_train_steps", "2", *TINY])
    assert (output / "checkpoint-2").is_dir() and (output / "diffusion_pytorch_model.safetensors").is_file()
    logs = [json.loads(line) for line in (output / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs if "l1" in r] == [1, 2]
    assert all(r["face"] == 0 for r in logs if "face" in r)  # the face is never changed
    assert any("val_lab_finished" in r for r in logs)  # held-out photos scored at the checkpoint
    train.main(["--warm_start", str(data), "--output_dir", str(output), "--max_train_steps", "3",
                "--resume_from_checkpoint", "latest", *TINY])
    logs = [json.loads(line) for line in (output / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs if "l1" in r] == [1, 2, 3]
    assert CycleBizFinisher.from_pretrained(output).config.resolution == 32


def test_train_finisher_unpaired_two_steps(tmp_path, load_script):
    train = load_script("train_finisher")
    pairs = _tiny_examples(tmp_path / "pairs", 6, target=True)
    composites = _tiny_examples(tmp_path / "composites", 4, target=False, seed=1)
    portraits = _tiny_examples(tmp_path / "portraits", 4, target=False, seed=2)
    output = tmp_path / "run"
    train.main(["--stage", "unpaired", "--composites", str(composites), "--portraits", str(portraits),
                "--warm_start", str(pairs), "--output_dir", str(output), "--max_train_steps", "2", *TINY])
    logs = [json.loads(line) for line in (output / "logs" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in logs if "cycle" in r]
    assert [r["step"] for r in steps] == [1, 2]
    assert all(np.isfinite(r[k]) for r in steps for k in ("g_adv", "g_class", "cycle", "background", "l1", "d_total"))
    for sub in ("finisher_b2a", "discriminator_a", "discriminator_b"):
        assert (output / sub / "config.json").is_file()


def test_train_finisher_unpaired_with_the_projected_discriminator_and_augmentation(tmp_path, load_script):
    train = load_script("train_finisher")
    composites = _tiny_examples(tmp_path / "composites", 4, target=False, seed=1)
    portraits = _tiny_examples(tmp_path / "portraits", 4, target=False, seed=2)
    output = tmp_path / "run"
    train.main(["--stage", "unpaired", "--composites", str(composites), "--portraits", str(portraits),
                "--output_dir", str(output), "--max_train_steps", "1", "--discriminator", "projected",
                "--diff_augment", *TINY])
    logs = [json.loads(line) for line in (output / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r[k]) for r in logs if "cycle" in r for k in ("g_adv", "d_total"))
    config = json.loads((output / "discriminator_b" / "config.json").read_text())
    assert config["_class_name"] == "CycleBizProjectedDiscriminator"
    assert CycleBizProjectedDiscriminator.from_pretrained(output / "discriminator_b").heads[0][0].out_channels == 4


def test_diff_augment_moves_image_and_band_together_and_passes_gradients():
    from cyclegan_biz.training.augment import diff_augment

    torch.manual_seed(0)
    band = torch.zeros(4, 1, 32, 32)
    band[:, :, 12:20, 12:20] = 1
    image = (band.repeat(1, 3, 1, 1) * 1.5 - 0.75).requires_grad_(True)  # the band bright on a dark image
    out, moved = diff_augment(image, band, torch.Generator().manual_seed(1))
    assert out.shape == image.shape and moved.shape == band.shape
    assert not torch.equal(moved, band)  # translated
    for k in range(4):  # where the band went, the image's square went (unless cut out)
        inside = moved[k, 0] > 0.99
        outside = moved[k, 0] < 0.01
        seen = out[k].abs().sum(0) > 0  # not in the cut-out hole
        if (inside & seen).sum() > 4 and (outside & seen).sum() > 4:
            brightness = out[k].mean(0)
            assert brightness[inside & seen].mean() > brightness[outside & seen].mean()
    out.sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def model_with_finisher(tmp_path_factory) -> Path:
    """The bundled model folder plus a (busy) finisher in ``finisher/``."""
    import shutil

    from cyclegan_biz.pipeline.hub import DEFAULT_MODEL_DIR, FINISHER_SUBFOLDER

    folder = tmp_path_factory.mktemp("model") / "selfie2biz"
    shutil.copytree(DEFAULT_MODEL_DIR, folder, ignore=shutil.ignore_patterns(FINISHER_SUBFOLDER))
    _busy_finisher(3).save_pretrained(folder / FINISHER_SUBFOLDER)
    return folder


def test_pipeline_runs_the_models_finisher_only_inside_the_seam_band(model_with_finisher):
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline
    from cyclegan_biz.vision.landmarks import detect_face, face_mask

    example = Path(__file__).parents[1] / "cyclegan_biz" / "examples" / "canada-095m.jpg"
    finished = SelfieToBusinessPipeline.from_pretrained(model_with_finisher, engine="torch")
    classical = SelfieToBusinessPipeline.from_pretrained(model_with_finisher, engine="torch", finisher=False)
    assert classical.finisher is None and isinstance(finished.finisher, CycleBizFinisher)
    a = np.asarray(finished(example, size=384).image).astype(int)
    b = np.asarray(classical(example, size=384).image).astype(int)
    changed = np.abs(a - b).max(axis=-1) > 0
    assert 0.005 < changed.mean() < 0.3  # the seam band changed, the rest of the headshot not
    face = detect_face(b.astype(np.uint8))
    inner = cv2.erode(face_mask(changed.shape, face).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert not changed[inner].any()  # the face is left exactly as it was (its outline re-detected: a rim spared)
    rows = np.nonzero(changed.any(axis=1))[0]
    assert rows.min() > face.points[:, 1].mean()  # nothing above the middle of the face


def test_finisher_option_errors_and_save_pretrained_keeps_it(model_with_finisher, tmp_path):
    from cyclegan_biz.errors import MissingWeightsError
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    with pytest.raises(MissingWeightsError, match="No finisher"):
        SelfieToBusinessPipeline.from_pretrained(engine="torch", finisher=tmp_path)
    pipe = SelfieToBusinessPipeline.from_pretrained(engine="torch", finisher=model_with_finisher / "finisher")
    assert pipe.finisher_dir == model_with_finisher / "finisher"
    saved = SelfieToBusinessPipeline.from_pretrained(model_with_finisher, engine="torch").save_pretrained(
        tmp_path / "saved", onnx=False)
    reloaded = SelfieToBusinessPipeline.from_pretrained(saved, engine="torch")
    assert reloaded.finisher_dir == saved / "finisher"
    for (name, a), (_, b) in zip(reloaded.finisher.state_dict().items(),
                                 _busy_finisher(3).state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_onnx_finisher_matches_the_torch_one(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from cyclegan_biz.pipeline.onnx_export import finisher_onnx_file
    from cyclegan_biz.wardrobe.finishing import OnnxFinisher, crop_correction

    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    model = _busy_finisher(5)
    model.save_pretrained(tmp_path / "finisher")
    path = finisher_onnx_file(tmp_path / "finisher")  # exported once into the cache
    assert path is not None and path.is_relative_to(tmp_path / "cache")
    assert finisher_onnx_file(tmp_path / "finisher", export=False) == path
    onnx_model = OnnxFinisher(path)
    assert onnx_model.config.resolution == model.config.resolution == 32
    rng = np.random.default_rng(0)
    planes = {"image": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
              **{k: rng.random((32, 32), dtype=np.float32) for k in ("band", "face", "person")}}
    expected = crop_correction(model, planes)
    assert expected.shape == (32, 32, 3) and np.abs(expected).max() > 0.01
    assert np.abs(crop_correction(onnx_model, planes) - expected).max() < 1e-4


def test_onnx_engine_runs_the_finisher_without_torch_and_matches(model_with_finisher, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline
    from cyclegan_biz.wardrobe.finishing import OnnxFinisher

    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    example = Path(__file__).parents[1] / "cyclegan_biz" / "examples" / "canada-003f.jpg"
    onnx = SelfieToBusinessPipeline.from_pretrained(model_with_finisher, engine="onnx")
    torch_pipe = SelfieToBusinessPipeline.from_pretrained(model_with_finisher, engine="torch")
    assert isinstance(onnx.finisher, OnnxFinisher) and isinstance(torch_pipe.finisher, CycleBizFinisher)
    a = np.asarray(onnx(example, size=256).image).astype(int)
    b = np.asarray(torch_pipe(example, size=256).image).astype(int)
    assert np.abs(a - b).max() <= 1


def test_models_load_one_at_a_time_from_any_thread(model_with_finisher):
    """diffusers' loading patches torch process-wide: concurrent first uses (a Space's first requests) must not
    overlap; every load goes through one lock and all of them succeed."""
    from concurrent.futures import ThreadPoolExecutor

    from cyclegan_biz.models import CycleBizGenerator
    from cyclegan_biz.pipeline import hub

    seen = []
    real = CycleBizGenerator.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(hub._LOADING.locked())
        return real(cls, *args, **kwargs)

    loads = [lambda: hub.load_generator(model_with_finisher),
             lambda: hub.load_finisher(model_with_finisher / "finisher"),
             lambda: hub.load_classifier(model_with_finisher)] * 3
    original = CycleBizGenerator.from_pretrained
    CycleBizGenerator.from_pretrained = classmethod(spy)
    try:
        with ThreadPoolExecutor(4) as pool:
            models = list(pool.map(lambda load: load(), loads))
    finally:
        CycleBizGenerator.from_pretrained = original
    assert all(m is not None for m in models)
    assert seen and all(seen)  # the generator always loaded under the lock
    for model in models:  # real weights, none left on the meta device
        assert all(p.device.type == "cpu" for p in model.parameters())
