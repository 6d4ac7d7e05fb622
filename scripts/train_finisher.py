"""Train the finisher (issue 12): a smooth correction of wardrobe composites inside the seam band.

    # data (scripts/build_finisher_data.py), then the supervised warm start, then the unpaired stage
    python scripts/train_finisher.py --stage warm_start --warm_start data/finisher-warmstart-128 \\
        --output_dir runs/finisher-warm --max_minutes 30
    python scripts/train_finisher.py --stage unpaired --composites data/finisher-casual-128 \\
        --portraits data/finisher-business-128 --warm_start data/finisher-warmstart-128 \\
        --init_from runs/finisher-warm --output_dir runs/finisher-gan
    accelerate launch --multi_gpu --num_processes 4 scripts/train_finisher.py ...   # the same script on GPUs

The warm start fits ``T(photo)`` from ``T(head)`` over the untouched outfit (L1 in RGB and Lab on the seam band);
the unpaired stage keeps the seed's method (cycle, face-mask and background terms, class heads with labels partly
missing) with patch discriminators judged on the seam band, plus the supervised terms. Checkpoints like
``scripts/train.py`` (``--resume_from_checkpoint latest``; Ctrl-C or ``kill`` saves one); the finisher is exported
to the output folder (``CycleBizFinisher.from_pretrained(output_dir)``). ``--max_minutes`` stops at a time budget.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from itertools import chain
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizFinisher, CycleBizProjectedDiscriminator
from cyclegan_biz.training.checkpoints import TrainingProgress, init_from, save_checkpoint, start_run
from cyclegan_biz.training.finisher_data import FinisherExamples, UnpairedFinisherExamples
from cyclegan_biz.training.finisher_step import finish, supervised_losses, unpaired_step, warm_start_step
from cyclegan_biz.training.loop import (
    adam_with_schedules,
    append_jsonl,
    forever,
    prepare,
    resume,
    start_logs,
    train_loop,
)
from cyclegan_biz.training.options import add_loss_options, add_run_options

# Default steps of each stage: about an hour each on two CPU cores (warm start ~0.2 s a step, unpaired ~1 s).
DEFAULT_STEPS = {"warm_start": 20000, "unpaired": 4000}
SUBFOLDERS = ("", "finisher_b2a", "discriminator_a", "discriminator_b")  # root: the A -> B finisher (Hub layout)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["warm_start", "unpaired"], default="warm_start")
    p.add_argument("--warm_start", default=None, help="folder of warm-start pairs (build_finisher_data.py)")
    p.add_argument("--composites", default=None, help="folder of domain-A composites (unpaired stage)")
    p.add_argument("--portraits", default=None, help="folder of domain-B real portraits (unpaired stage)")
    p.add_argument("--held_out", type=float, default=0.1, help="share of warm-start photos kept for validation")
    p.add_argument("--output_dir", default="runs/finisher")
    p.add_argument("--channels", type=int, default=16, help="width of the finisher's first layer")
    p.add_argument("--blocks", type=int, default=3, help="residual blocks of the finisher")
    p.add_argument("--working_resolution", type=int, default=64, help="where the correction is predicted")
    p.add_argument("--max_change", type=float, default=0.5, help="largest correction ([-1, 1] units)")
    p.add_argument("--discriminator", choices=["patch", "projected"], default="patch",
                   help="PatchGAN, or the projected discriminator (frozen EfficientNet-Lite0 features)")
    p.add_argument("--discriminator_channels", type=int, default=32, help="ndf (patch) or head width (projected)")
    p.add_argument("--diff_augment", action="store_true",
                   help="differentiable augmentation before every discriminator call (colour, translation, cutout)")
    p.add_argument("--lambda_lab", type=float, default=0.05, help="Lab L1 weight (ΔE units) beside the RGB L1")
    p.add_argument("--lambda_supervised", type=float, default=1.0, help="warm-start terms in the unpaired stage")
    p.add_argument("--max_minutes", type=float, default=None, help="stop (checkpoint + export) after this long")
    p.add_argument("--max_cpu_minutes", type=float, default=None,
                   help="stop after this much CPU time of this process (equal-budget comparisons on a shared machine)")
    p.add_argument("--init_from", default=None, help="a saved finisher run (e.g. the warm start) to start from")
    add_loss_options(p)
    add_run_options(p, max_train_steps=None, batch_size=8, checkpointing_steps=200, report_to="none")
    args = p.parse_args(argv)
    if args.max_train_steps is None:  # about an hour each on two CPU cores (model_card.md)
        args.max_train_steps = DEFAULT_STEPS[args.stage]
    if args.stage == "warm_start" and not args.warm_start:
        p.error("--stage warm_start needs --warm_start")
    if args.stage == "unpaired" and not (args.composites and args.portraits):
        p.error("--stage unpaired needs --composites and --portraits")
    return args


def split_pairs(folder: str, held_out: float) -> tuple[list[Path], list[Path]]:
    """(train, validation) files: whole photos go to validation, chosen by a hash of their name (stable when the
    folder grows: a photo never moves between the two)."""
    files = sorted(Path(folder).glob("*.npz"))
    buckets = max(2, round(1 / held_out)) if held_out > 0 else 0

    def validation(file: Path) -> bool:
        photo = file.name.rsplit("-", 1)[0]
        return bool(buckets) and int(hashlib.sha1(photo.encode()).hexdigest(), 16) % buckets == 0

    return [f for f in files if not validation(f)], [f for f in files if validation(f)]


def build_models(args: argparse.Namespace) -> list[torch.nn.Module]:
    def finisher() -> CycleBizFinisher:
        return CycleBizFinisher(base_channels=args.channels, num_res_blocks=args.blocks,
                                working_resolution=args.working_resolution, max_change=args.max_change,
                                resolution=args.resolution)

    if args.stage == "warm_start":
        return [finisher()]
    def discriminator() -> torch.nn.Module:
        if args.discriminator == "projected":
            return CycleBizProjectedDiscriminator(head_channels=args.discriminator_channels)
        return CycleBizDiscriminator(base_channels=args.discriminator_channels)

    return [finisher(), finisher(), discriminator(), discriminator()]


def export(models, folder: Path) -> None:
    for model, sub in zip(models, SUBFOLDERS, strict=False):
        model.save_pretrained(folder / sub if sub else folder)


def start_from(models, folder: Path, accelerator) -> None:
    """Start from a saved run: every part present in ``folder`` (the warm start has the root finisher only)."""
    init_from(models, folder, accelerator, SUBFOLDERS)
    if len(models) > 1 and not (folder / SUBFOLDERS[1] / "config.json").is_file():
        models[1].load_state_dict(models[0].state_dict())  # the way back starts as the way there: near identity


@torch.no_grad()
def validate(finisher, loader) -> dict[str, float]:
    """Band errors of held-out warm-start pairs: the composite as it is (``*_input``) and finished."""
    sums: dict[str, float] = {}
    for batch in loader:
        batch = {k: v.to(finisher.device) for k, v in batch.items()}
        for name, image in (("input", batch["input"]), ("finished", finish(finisher, batch))):
            for key, value in supervised_losses(image, batch).items():
                sums[f"val_{key}_{name}"] = sums.get(f"val_{key}_{name}", 0.0) + float(value)
    return {k: v / max(1, len(loader)) for k, v in sums.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    accelerator, report_to, output_dir = start_run(args)
    warm_train, warm_val = split_pairs(args.warm_start, args.held_out) if args.warm_start else ([], [])
    if args.stage == "warm_start":
        train_set = FinisherExamples(args.warm_start, flip=True, files=warm_train, seed=args.seed)
    else:
        train_set = UnpairedFinisherExamples(FinisherExamples(args.composites, flip=True),
                                             FinisherExamples(args.portraits, flip=True), args.seed)
    first = train_set[0]
    args.resolution = int((first.get("input") if "input" in first else first["input_a"]).shape[-1])
    log_file = start_logs(accelerator, args, output_dir, report_to)
    loader = DataLoader(train_set, batch_size=args.train_batch_size, shuffle=True,
                        num_workers=args.dataloader_num_workers, drop_last=True)
    val_loader = DataLoader(FinisherExamples(args.warm_start, files=warm_val), batch_size=args.train_batch_size) \
        if warm_val else None
    warm_loader = DataLoader(FinisherExamples(args.warm_start, flip=True, files=warm_train, seed=args.seed),
                             batch_size=args.train_batch_size, shuffle=True, drop_last=True) \
        if args.stage == "unpaired" and warm_train else None

    models = build_models(args)
    if args.init_from:
        start_from(models, Path(args.init_from), accelerator)
    finishers, discriminators = models[:2], models[2:]
    groups = [(chain(*(m.parameters() for m in finishers)), args.learning_rate)]
    if discriminators:
        groups.append((chain(*(m.parameters() for m in discriminators)), args.learning_rate))
    optimizers, schedulers = adam_with_schedules(groups, args, accelerator)
    models, optimizers, loader, schedulers = prepare(accelerator, models, optimizers, loader, schedulers)
    warm_batches = forever(accelerator.prepare(warm_loader), warm_loader.dataset) if warm_loader is not None else None
    progress = TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    global_step = resume(accelerator, args, output_dir)

    def step(batch: dict) -> dict[str, torch.Tensor]:
        if args.stage == "warm_start":
            return warm_start_step(batch, models[0], optimizers[0], schedulers[0], accelerator, args)
        if warm_batches is not None:
            batch["warm"] = next(warm_batches)
        return unpaired_step(batch, models, optimizers, schedulers, accelerator, args)

    def save(step: int, synchronize: bool) -> None:
        save_checkpoint(accelerator, args, output_dir, step, models, (), synchronize, export=export)

    def after_step(step: int, saved: bool) -> None:
        if saved and val_loader is not None and accelerator.is_main_process:
            append_jsonl(log_file, {"step": step, **validate(accelerator.unwrap_model(models[0]), val_loader)})

    started_wall, cpu_start = time.perf_counter(), time.process_time()

    def out_of_time() -> bool:
        return ((bool(args.max_minutes) and time.perf_counter() - started_wall > 60 * args.max_minutes)
                or (bool(args.max_cpu_minutes) and time.process_time() - cpu_start > 60 * args.max_cpu_minutes))

    global_step = train_loop(accelerator, args, loader, train_set, step, save, global_step=global_step,
                             progress=progress, log_file=log_file, desc="finisher", after_step=after_step,
                             out_of_time=out_of_time,
                             log_fields=lambda: {"cpu_seconds": round(time.process_time() - cpu_start, 1)})
    if accelerator.is_main_process:
        export([accelerator.unwrap_model(m) for m in models], output_dir)
        summary = {"steps": global_step, "train_seconds": round(progress.seconds, 1),
                   "cpu_seconds_this_session": round(time.process_time() - cpu_start, 1)}
        (output_dir / "logs" / "summary.json").write_text(json.dumps(summary, indent=2))
        accelerator.print(f"Saved the finisher to {output_dir}: {summary}")
    accelerator.end_training()


if __name__ == "__main__":
    main()
