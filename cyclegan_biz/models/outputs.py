"""What a discriminator returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DiscriminatorOutput:
    """``patch``: real/fake logits per patch (B, 1, h, w); ``class_logits``: attire/gender logits (B, C) or None."""

    patch: torch.Tensor
    class_logits: torch.Tensor | None
