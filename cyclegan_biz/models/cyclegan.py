"""A whole CycleGAN as one folder in Hub layout.

The root holds the A2B generator, so ``CycleBizGenerator.from_pretrained(folder)`` works unchanged; subfolders hold
``generator_b2a``, ``discriminator_a`` and ``discriminator_b``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .discriminator import CycleBizDiscriminator
from .generator import CycleBizGenerator
from .projected_discriminator import CycleBizProjectedDiscriminator

SUBFOLDERS = {"generator_b2a": "generator_b2a", "discriminator_a": "discriminator_a",
              "discriminator_b": "discriminator_b"}
DISCRIMINATOR_CLASSES = {cls.__name__: cls for cls in (CycleBizDiscriminator, CycleBizProjectedDiscriminator)}


@dataclass
class CycleGAN:
    generator_a2b: CycleBizGenerator
    generator_b2a: CycleBizGenerator | None = None
    discriminator_a: nn.Module | None = None
    discriminator_b: nn.Module | None = None

    def save_pretrained(self, folder: str | Path, dtype: torch.dtype | None = None) -> Path:
        folder = Path(folder)
        for name, model in self._parts():
            target = folder if name == "generator_a2b" else folder / SUBFOLDERS[name]
            if dtype is not None:  # convert a copy, leave the training model alone
                model = copy.deepcopy(model).to(dtype)
            model.save_pretrained(target, safe_serialization=True)
        return folder

    def _parts(self):
        for name in ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b"):
            model = getattr(self, name)
            if model is not None:
                yield name, model

    @classmethod
    def from_pretrained(cls, folder_or_hub_id: str | Path, torch_dtype: torch.dtype | None = None) -> CycleGAN:
        """Load every part present. A Hub id is downloaded first (all of it, then cached)."""
        from ..pipeline.hub import resolve_model_dir

        folder = resolve_model_dir(folder_or_hub_id, allow_patterns=None)
        kwargs = {"torch_dtype": torch_dtype} if torch_dtype else {}
        parts: dict[str, nn.Module] = {"generator_a2b": CycleBizGenerator.from_pretrained(folder, **kwargs)}
        for name, sub in SUBFOLDERS.items():
            config = folder / sub / "config.json"
            if not config.is_file():
                continue
            model_cls = discriminator_class(config) if name.startswith("discriminator") else CycleBizGenerator
            # A local subfolder is loaded by path: diffusers would prefer the root's weights to the subfolder's.
            parts[name] = model_cls.from_pretrained(folder / sub, **kwargs)
        return cls(**parts)


def discriminator_class(config_path: str | Path) -> type:
    """The discriminator class named by a saved ``config.json``."""
    name = json.loads(Path(config_path).read_text())["_class_name"]
    if name not in DISCRIMINATOR_CLASSES:
        raise ValueError(f"{config_path}: unknown discriminator class {name!r}")
    return DISCRIMINATOR_CLASSES[name]
