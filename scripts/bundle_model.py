"""Bundle a trained model into the package for offline inference: A2B generator + discriminator_a, fp16.

discriminator_a's class head picks the attire in ``attire="auto"`` (it learned gender on casual photos).

    python scripts/bundle_model.py runs/selfie2biz --output cyclegan_biz/pretrained/selfie2biz
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from diffusers.utils import logging as diffusers_logging

from cyclegan_biz.models.cyclegan import CycleGAN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a trained model folder in Hub layout (or a checkpoint's model/ folder)")
    parser.add_argument("--output", default="cyclegan_biz/pretrained/selfie2biz")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    args = parser.parse_args()
    diffusers_logging.set_verbosity_error()  # the fp16 cast is intended
    full = CycleGAN.from_pretrained(args.model)
    output = Path(args.output)
    if output.exists():
        shutil.rmtree(output)
    CycleGAN(full.generator_a2b, discriminator_a=full.discriminator_a).save_pretrained(
        output, dtype=getattr(torch, args.dtype))
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    print(f"Bundled {args.model} -> {output} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
