"""Loss terms of the selfie-to-business CycleGAN.

Images are in [-1, 1] (B, 3, H, W); masks are (B, 1, H, W) in [0, 1]. Every masked term averages over the mask
only, so padding (``valid_mask == 0``) never counts.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

IGNORE_LABEL = -1


def lsgan_loss(logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017): push logits to 1 for real, 0 for fake."""
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    return F.mse_loss(logits, target)


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean absolute difference over the pixels where ``mask`` is on (weighted by it)."""
    weight = mask.expand_as(a)
    return ((a - b).abs() * weight).sum() / (weight.sum() + eps)


def cycle_loss(real: torch.Tensor, reconstructed: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
    """Cycle consistency: A -> B -> A gives A back, on real (non-padding) pixels."""
    return masked_l1(real, reconstructed, valid_mask)


def identity_loss(real: torch.Tensor, mapped: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
    """A generator fed an image of its own target domain should leave it alone."""
    return masked_l1(real, mapped, valid_mask)


def face_mask_loss(source: torch.Tensor, translated: torch.Tensor, face_mask: torch.Tensor) -> torch.Tensor:
    """The seed's face term: any change of the pixels inside the face mask is penalised."""
    return masked_l1(source, translated, face_mask)


def background_uniformity_loss(
    translated: torch.Tensor, person_mask: torch.Tensor, valid_mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Variance of the translated image over the input's background (not person, inside the photo).

    Zero for a flat backdrop of any colour. Padding is left out so completed shoulders are not flattened.
    """
    weight = ((1.0 - person_mask) * valid_mask).expand_as(translated)
    total = weight.sum(dim=(2, 3), keepdim=True) + eps
    mean = (translated * weight).sum(dim=(2, 3), keepdim=True) / total
    variance = (((translated - mean) ** 2) * weight).sum(dim=(2, 3), keepdim=True) / total
    return variance.mean()


def classification_loss(logits: torch.Tensor | None, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the labelled samples only (label -1 = unknown contributes nothing).

    Returns a zero that still carries a graph when no sample in the batch is labelled, so DDP and
    backward work the same whatever the batch holds.
    """
    if logits is None:
        return labels.new_zeros((), dtype=torch.float32)
    known = labels != IGNORE_LABEL
    if not known.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known], labels[known].long())


def lab_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean absolute difference in CIE Lab (L in 0..100; kornia's sRGB conversion), for [-1, 1] RGB: the
    units of the re-composite test's ΔE, so a seam's error weighs as the eye sees it."""
    from kornia.color import rgb_to_lab

    def to_lab(image: torch.Tensor) -> torch.Tensor:
        return rgb_to_lab(((image.float() + 1) / 2).clamp(0, 1))

    return masked_l1(to_lab(a), to_lab(b), mask)
