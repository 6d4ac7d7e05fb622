"""CycleGAN ResNet generator conditioned on the target attire (StarGAN-style one-hot input planes)."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

# Attire classes; their ids equal the gender ids of the dataset (female -> blazer, male -> suit).
ATTIRE_CLASSES = ("blazer", "suit")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def upsample_block(in_channels: int, out_channels: int, mode: str) -> list[nn.Module]:
    if mode == "transpose":
        conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        return [conv, nn.InstanceNorm2d(out_channels), nn.ReLU(True)]
    # Resize-then-convolve avoids the checkerboard artefacts of transposed convolutions (Odena et al. 2016).
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, out_channels, 3), nn.InstanceNorm2d(out_channels), nn.ReLU(True)]


class CycleBizGenerator(ModelMixin, ConfigMixin):
    """ResNet generator (Johnson et al. / CycleGAN) mapping [-1, 1] RGB to [-1, 1] RGB.

    With ``num_attire_classes > 0`` the requested attire is fed as constant one-hot planes next to the image, so
    one model dresses in a suit or a blazer on request. ``attire=None`` gives equal weight to every class.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        num_res_blocks: int = 9,
        num_downsamples: int = 2,
        upsample_mode: str = "resize",
        num_attire_classes: int = 2,
        resolution: int = 256,
    ) -> None:
        super().__init__()
        if upsample_mode not in ("resize", "transpose"):
            raise ValueError("upsample_mode must be 'resize' or 'transpose'")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels + num_attire_classes, base_channels, 7),
            nn.InstanceNorm2d(base_channels), nn.ReLU(True),
        ]
        channels = base_channels
        for _ in range(num_downsamples):
            layers += [nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(channels * 2),
                       nn.ReLU(True)]
            channels *= 2
        layers += [ResidualBlock(channels) for _ in range(num_res_blocks)]
        for _ in range(num_downsamples):
            layers += upsample_block(channels, channels // 2, upsample_mode)
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def attire_planes(self, image: torch.Tensor, attire: torch.Tensor | None) -> torch.Tensor:
        batch, _, height, width = image.shape
        classes = self.config.num_attire_classes
        if attire is None:
            onehot = torch.full((batch, classes), 1.0 / classes, device=image.device, dtype=image.dtype)
        elif attire.dtype.is_floating_point:  # soft weights, e.g. classifier probabilities
            onehot = attire.to(image.dtype).reshape(batch, classes)
        else:
            onehot = nn.functional.one_hot(attire.long().reshape(batch), classes).to(image.dtype)
        return onehot[:, :, None, None].expand(batch, classes, height, width)

    def forward(self, image: torch.Tensor, attire: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_attire_classes:
            image = torch.cat([image, self.attire_planes(image, attire)], dim=1)
        return self.net(image)
