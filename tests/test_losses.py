import torch

from cyclegan_biz.training.losses import (
    background_uniformity_loss,
    classification_loss,
    cycle_loss,
    face_mask_loss,
    lsgan_loss,
    masked_l1,
)


def _image(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _face_mask() -> torch.Tensor:
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 5:11] = 1
    return mask


def test_face_loss_is_zero_when_face_unchanged_even_if_the_rest_changes():
    source, mask = _image(), _face_mask()
    translated = torch.where(mask.bool(), source, -source)  # everything but the face changes
    assert face_mask_loss(source, translated, mask).item() == 0.0


def test_face_loss_grows_with_the_change_inside_the_face():
    source, mask = _image(), _face_mask()
    small = face_mask_loss(source, source + 0.1 * mask, mask)
    large = face_mask_loss(source, source + 0.5 * mask, mask)
    assert torch.isclose(small, torch.tensor(0.1), atol=1e-5)
    assert torch.isclose(large, torch.tensor(0.5), atol=1e-5)


def test_masked_l1_ignores_padding():
    real, valid = _image(), torch.ones(2, 1, 16, 16)
    valid[:, :, :, :4] = 0  # left columns are padding
    reconstructed = real.clone()
    reconstructed[:, :, :, :4] += 5.0  # garbage only in the padding
    assert cycle_loss(real, reconstructed, valid).item() == 0.0
    reconstructed[:, :, :, 8] += 1.0  # one real column off by 1 -> mean 1/12 over 12 valid columns
    assert abs(cycle_loss(real, reconstructed, valid).item() - 1 / 12) < 1e-5
    assert masked_l1(real, reconstructed, torch.ones_like(valid)).item() > 1.0


def test_background_uniformity_zero_for_flat_background_and_ignores_person_and_padding():
    person = torch.zeros(1, 1, 16, 16)
    person[:, :, 6:, 4:12] = 1
    valid = torch.ones(1, 1, 16, 16)
    valid[:, :, :, 14:] = 0
    flat = torch.full((1, 3, 16, 16), 0.3)
    flat[:, :, 6:, 4:12] = torch.rand(1, 3, 10, 8)  # the person may be anything
    flat[:, :, :, 14:] = torch.rand(1, 3, 16, 2)  # so may the padding
    assert background_uniformity_loss(flat, person, valid).item() < 1e-10
    noisy = flat.clone()
    noisy[:, :, :3, :3] = -1.0
    assert background_uniformity_loss(noisy, person, valid).item() > 0.01


def test_unlabelled_samples_contribute_nothing_to_the_class_loss():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.2], [-3.0, 3.0]], requires_grad=True)
    labels = torch.tensor([0, -1, 1])
    full = classification_loss(logits, labels)
    only_known = classification_loss(logits[[0, 2]], labels[[0, 2]])
    assert torch.isclose(full, only_known)
    full.backward()
    assert torch.all(logits.grad[1] == 0)  # the unlabelled row gets no gradient


def test_class_loss_of_an_all_unlabelled_batch_is_zero_but_differentiable():
    logits = torch.randn(3, 2, requires_grad=True)
    loss = classification_loss(logits, torch.tensor([-1, -1, -1]))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None


def test_lsgan_targets():
    assert lsgan_loss(torch.ones(4), True).item() == 0.0
    assert lsgan_loss(torch.zeros(4), False).item() == 0.0
    assert lsgan_loss(torch.zeros(4), True).item() == 1.0
