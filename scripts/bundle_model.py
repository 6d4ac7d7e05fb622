"""Bundle a trained model into the package for offline inference: A2B generator + discriminator_a (+ the finisher),
fp16, in the Hub layout (generator at the root, ``discriminator_a/``, ``finisher/``).

discriminator_a's class head picks the attire in ``attire="auto"`` when the attire classifier is not installed;
the finisher (``scripts/train_finisher.py``) corrects the seam band of the outfit path.

    python scripts/bundle_model.py runs/selfie2biz --output cyclegan_biz/pretrained/selfie2biz
    python scripts/bundle_model.py --finisher runs/finisher-gan     # only (re)place the bundled finisher
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from diffusers.utils import logging as diffusers_logging

from cyclegan_biz.models import CycleBizFinisher
from cyclegan_biz.models.cyclegan import CycleGAN
from cyclegan_biz.pipeline.hub import FINISHER_SUBFOLDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?",
                        help="a trained CycleGAN folder in Hub layout (or a checkpoint's model/ folder); leave it "
                             "out to keep the bundled generator and only place --finisher")
    parser.add_argument("--finisher", type=Path, help="a trained finisher (train_finisher.py output folder)")
    parser.add_argument("--output", default="cyclegan_biz/pretrained/selfie2biz")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    args = parser.parse_args()
    if args.model is None and args.finisher is None:
        parser.error("give a model folder, --finisher, or both")
    diffusers_logging.set_verbosity_error()  # the fp16 cast is intended
    dtype = getattr(torch, args.dtype)
    output = Path(args.output)
    finisher = output / FINISHER_SUBFOLDER
    if args.model is not None:
        full = CycleGAN.from_pretrained(args.model)
        for item in output.iterdir() if output.exists() else ():  # the bundled finisher stays unless replaced
            if item != finisher:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        CycleGAN(full.generator_a2b, discriminator_a=full.discriminator_a).save_pretrained(output, dtype=dtype)
    if args.finisher is not None:
        if finisher.exists():
            shutil.rmtree(finisher)
        CycleBizFinisher.from_pretrained(args.finisher).to(dtype).save_pretrained(finisher)
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    print(f"Bundled {args.model or ''} {args.finisher or ''} -> {output} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
