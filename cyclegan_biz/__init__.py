"""cyclegan-biz: selfie to business headshot.

    from cyclegan_biz import SelfieToBusinessPipeline, CycleBizGenerator

The names below are imported on first use, so ``import cyclegan_biz`` stays cheap (no torch, no mediapipe): the CLI
and the Space start faster.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# OpenMP worker threads that spin while waiting make torch many times slower on a busy machine (a 2-core laptop with
# a browser open, a Space sharing its CPU): let them sleep instead. The one place this is set: every entry point
# (CLI, Space, scripts, tests) imports this package before torch. Only effective before torch is imported; an
# explicit OMP_WAIT_POLICY wins.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Public name -> the module that defines it.
_LAZY = {
    "SelfieToBusinessPipeline": ".pipeline",
    "HeadshotResult": ".pipeline",
    "CycleBizGenerator": ".models.generator",
    "CycleBizDiscriminator": ".models.discriminator",
    "CycleBizProjectedDiscriminator": ".models.projected_discriminator",
    "CycleGAN": ".models.cyclegan",
}
__all__ = [
    "CycleBizDiscriminator",
    "CycleBizGenerator",
    "CycleBizProjectedDiscriminator",
    "CycleGAN",
    "HeadshotResult",
    "SelfieToBusinessPipeline",
    "__version__",
]

if TYPE_CHECKING:  # for type checkers and IDEs only
    from .models.cyclegan import CycleGAN
    from .models.discriminator import CycleBizDiscriminator
    from .models.generator import CycleBizGenerator
    from .models.projected_discriminator import CycleBizProjectedDiscriminator
    from .pipeline import HeadshotResult, SelfieToBusinessPipeline


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
