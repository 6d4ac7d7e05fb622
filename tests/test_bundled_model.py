"""The default model shipped inside the package: present, small, fp16 safetensors, loadable offline, and usable."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizFinisher, CycleBizGenerator
from cyclegan_biz.pipeline import DEFAULT_MODEL_DIR, SelfieToBusinessPipeline

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "cyclegan_biz" / "examples").glob("*.jpg"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_bundle_is_small_fp16_safetensors_only():
    files = [p for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file()]
    # generator 3.9 MB + discriminator A 5.4 MB + finisher 0.55 MB, all fp16
    assert sum(p.stat().st_size for p in files) < 11_000_000
    weights = [p for p in files if p.suffix == ".safetensors"]
    assert {p.parent.name for p in weights} == {"selfie2biz", "discriminator_a", "finisher"}
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    for path in weights:
        with safe_open(str(path), "pt") as handle:
            assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.float16}  # noqa: SIM118


def test_bundled_models_load_with_from_pretrained_offline():
    generator = CycleBizGenerator.from_pretrained(DEFAULT_MODEL_DIR)
    assert generator.config.num_attire_classes == 2 and generator.config.resolution == 128
    discriminator = CycleBizDiscriminator.from_pretrained(DEFAULT_MODEL_DIR / "discriminator_a")
    image = torch.zeros(1, 3, 128, 128, dtype=generator.dtype)
    with torch.no_grad():
        assert generator.float()(image.float(), torch.tensor([1])).shape == (1, 3, 128, 128)
        assert discriminator.float()(image.float()).class_logits.shape == (1, 2)


def test_default_pipeline_converts_an_example_with_each_attire():
    pipe = SelfieToBusinessPipeline.from_pretrained(engine="torch")
    suit = pipe(EXAMPLES[0], attire="suit", size=512)
    blazer = pipe(EXAMPLES[0], attire="blazer", size=512)
    assert suit.image.size == (512, 512) and suit.attire == "suit" and blazer.attire == "blazer"
    # The trained generator makes a real change outside the face (not an identity map, not a blank).
    assert np.abs(np.asarray(suit.image, dtype=np.int16) - np.asarray(blazer.image, dtype=np.int16)).max() > 0
    auto = pipe(EXAMPLES[0], attire="auto", size=512)
    assert auto.attire in ("suit", "blazer") and 0.5 <= auto.attire_confidence <= 1.0


def test_bundled_finisher_is_the_pipelines_default_and_can_be_left_out():
    pipe = SelfieToBusinessPipeline.from_pretrained(engine="torch")
    assert isinstance(pipe.finisher, CycleBizFinisher) and pipe.finisher_dir == DEFAULT_MODEL_DIR / "finisher"
    assert next(pipe.finisher.parameters()).dtype == torch.float32  # fp16 on disk, float32 to run
    assert SelfieToBusinessPipeline.from_pretrained(engine="torch", finisher=False).finisher is None
    image = torch.zeros(1, 3, 128, 128)
    band = torch.zeros(1, 1, 128, 128)
    band[..., 80:, 40:88] = 1
    with torch.no_grad():
        correction = pipe.finisher.correction(image, band, torch.zeros_like(band), torch.ones_like(band))
    assert correction.abs().max() > 0  # trained: not the identity it starts as
