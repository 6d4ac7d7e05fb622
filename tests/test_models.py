import json

import pytest
import torch

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizGenerator, CycleBizProjectedDiscriminator
from cyclegan_biz.models.cyclegan import CycleGAN


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("upsample_mode", ["resize", "transpose"])
def test_generator_shape_range_and_attire_conditioning(image, upsample_mode):
    torch.manual_seed(0)
    generator = CycleBizGenerator(base_channels=8, num_res_blocks=2, upsample_mode=upsample_mode).eval()
    suit = generator(image, torch.tensor([1, 1]))
    blazer = generator(image, torch.tensor([0, 0]))
    assert suit.shape == image.shape
    assert suit.abs().max() <= 1.0
    # The attire must really change the output (instance norm would cancel a condition added before it).
    assert (suit - blazer).abs().mean() > 1e-3
    soft = generator(image, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert torch.allclose(soft, suit, atol=1e-6)  # one-hot probabilities equal the class id


def test_discriminators_return_patch_map_and_class_logits(image):
    patch = CycleBizDiscriminator(base_channels=8)(image)
    assert patch.patch.shape[:2] == (2, 1) and patch.class_logits.shape == (2, 2)
    projected = CycleBizProjectedDiscriminator(head_channels=8)(image)
    assert projected.patch.shape == (2, 1, 16, 16) and projected.class_logits.shape == (2, 2)


def test_projected_backbone_is_frozen_in_eval_mode_and_not_saved(tmp_path, image):
    model = CycleBizProjectedDiscriminator(head_channels=8).train()
    model(image)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not model.backbone.training
    assert all(p.requires_grad for p in model.parameters())  # only the heads are parameters
    assert not any(key.startswith("backbone") for key in model.state_dict())
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").stat().st_size < 1_000_000  # heads only
    loaded = CycleBizProjectedDiscriminator.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(loaded(image).class_logits, model.eval()(image).class_logits)


def test_generator_save_load_round_trip_is_identical(tmp_path, image):
    generator = CycleBizGenerator(base_channels=8, num_res_blocks=2, resolution=64).eval()
    generator.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin"))  # safetensors only
    loaded = CycleBizGenerator.from_pretrained(tmp_path).eval()
    assert loaded.config.resolution == 64
    attire = torch.tensor([0, 1])
    assert torch.equal(generator(image, attire), loaded(image, attire))


def test_cyclegan_hub_layout_round_trip(tmp_path, image):
    torch.manual_seed(0)
    parts = CycleGAN(
        CycleBizGenerator(base_channels=8, num_res_blocks=1),
        CycleBizGenerator(base_channels=8, num_res_blocks=1, num_attire_classes=0),
        CycleBizDiscriminator(base_channels=8),
        CycleBizProjectedDiscriminator(head_channels=8),
    )
    parts.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["_class_name"] == "CycleBizGenerator"
    for sub in ("generator_b2a", "discriminator_a", "discriminator_b"):
        assert (tmp_path / sub / "config.json").is_file()
    loaded = CycleGAN.from_pretrained(tmp_path)
    assert isinstance(loaded.discriminator_b, CycleBizProjectedDiscriminator)
    # The root alone loads as a plain generator, as users call it.
    root = CycleBizGenerator.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(root(image), parts.generator_a2b.eval()(image))
        assert torch.equal(loaded.generator_b2a.eval()(image), parts.generator_b2a.eval()(image))
        assert torch.equal(loaded.discriminator_a(image).class_logits, parts.discriminator_a(image).class_logits)


def test_half_precision_export_is_small_and_close(tmp_path, image):
    generator = CycleBizGenerator(base_channels=8, num_res_blocks=1).eval()
    CycleGAN(generator).save_pretrained(tmp_path, dtype=torch.float16)
    assert generator.dtype == torch.float32  # the original is untouched
    loaded = CycleBizGenerator.from_pretrained(tmp_path, torch_dtype=torch.float16)
    assert loaded.dtype == torch.float16
    with torch.no_grad():
        diff = (loaded.float()(image) - generator(image)).abs().max()
    assert diff < 2e-2
