"""Train the selfie-to-business CycleGAN (face-mask loss, uniform background, semi-supervised attire classes).

    python scripts/train.py --dataset data/selfie2biz-256 --output_dir runs/selfie2biz   # one process
    accelerate launch --multi_gpu --num_processes 4 scripts/train.py --dataset ... --output_dir ...   # 4 GPUs, DDP
    accelerate launch --multi_gpu --num_processes 2 scripts/train.py --cpu --dataset ...   # 2 CPU processes, gloo

(``accelerate launch --cpu --num_processes 2`` starts ONE process unless mpirun is set up: accelerate's multi-CPU
launcher is mpirun. ``--multi_gpu`` starts the processes with torchrun, and ``--cpu`` here makes them talk over
gloo.) Several machines: the same command on each, with ``--num_machines N --machine_rank R --main_process_ip IP
--main_process_port PORT`` and ``--num_processes`` the total over all machines. Each process trains on its own
share of every batch (the global batch is ``--train_batch_size`` x processes); data loading is set up once (the main
process first), the losses in the log are averaged over processes, and samples, logs and the Hub-layout export are
written by the main process only.

The dataset is a ``save_to_disk`` folder (or Hub id) made by ``scripts/prepare_dataset.py``. The output folder gets
``checkpoint-N/`` states (resume with ``--resume_from_checkpoint latest``), ``logs/train_log.jsonl``, sample
grids in ``samples/`` and, at the end, the model in Hub layout (A2B generator at the root).
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import chain
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizGenerator, CycleBizProjectedDiscriminator
from cyclegan_biz.models.cyclegan import CycleGAN
from cyclegan_biz.training.checkpoints import (
    TrainingProgress,
    init_from,
    load_pools,
    resolve_checkpoint,
    save_checkpoint,
    start_run,
)
from cyclegan_biz.training.dataset import UnpairedImageDataset, example_to_tensors, load_dataset_any
from cyclegan_biz.training.options import add_loss_options, add_run_options
from cyclegan_biz.training.samples import write_samples
from cyclegan_biz.training.step import ImagePool, lr_lambda, mean_over_processes, train_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="save_to_disk folder or Hub dataset id")
    p.add_argument("--output_dir", default="runs/selfie2biz")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--generator_channels", type=int, default=32, help="ngf: width of the first generator layer")
    p.add_argument("--generator_blocks", type=int, default=6, help="residual blocks in each generator")
    p.add_argument("--upsample_mode", choices=["resize", "transpose"], default="resize")
    p.add_argument("--discriminator", choices=["patch", "projected"], default="projected")
    p.add_argument("--discriminator_channels", type=int, default=64, help="ndf (patch) or head width (projected)")
    p.add_argument("--lambda_identity", type=float, default=0.0, help="0 skips the identity passes (faster)")
    p.add_argument("--discriminator_learning_rate", type=float, default=None, help="defaults to --learning_rate")
    p.add_argument("--pool_size", type=int, default=50)
    p.add_argument("--init_from", default=None,
                   help="start from the weights of a saved model (Hub layout); layers it lacks keep their init")
    p.add_argument("--sample_steps", type=int, default=250, help="write a sample grid every N steps")
    p.add_argument("--num_samples", type=int, default=4, help="held-out casual photos in the sample grid")
    add_loss_options(p)
    add_run_options(p, max_train_steps=4000, batch_size=1, checkpointing_steps=250)
    return p.parse_args(argv)


def build_models(args: argparse.Namespace):
    g_ab = CycleBizGenerator(base_channels=args.generator_channels, num_res_blocks=args.generator_blocks,
                             upsample_mode=args.upsample_mode, num_attire_classes=2, resolution=args.resolution)
    g_ba = CycleBizGenerator(base_channels=args.generator_channels, num_res_blocks=args.generator_blocks,
                             upsample_mode=args.upsample_mode, num_attire_classes=0, resolution=args.resolution)
    if args.discriminator == "patch":
        d_a, d_b = (CycleBizDiscriminator(base_channels=args.discriminator_channels) for _ in range(2))
    else:
        d_a, d_b = (CycleBizProjectedDiscriminator(head_channels=args.discriminator_channels) for _ in range(2))
    return g_ab, g_ba, d_a, d_b


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    accelerator, report_to, output_dir = start_run(args)
    if accelerator.is_main_process:
        (output_dir / "samples").mkdir(parents=True, exist_ok=True)
        (output_dir / "logs").mkdir(parents=True, exist_ok=True)
        (output_dir / "training_args.json").write_text(json.dumps(vars(args), indent=2))

    with accelerator.main_process_first():  # a Hub dataset is downloaded (and cached) once, then read by the others
        dataset = load_dataset_any(args.dataset)
    train_set = UnpairedImageDataset(dataset["train"], args.resolution, flip=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.train_batch_size, shuffle=True,
                        num_workers=args.dataloader_num_workers, drop_last=True)
    held_out = dataset["test"] if "test" in dataset and len(dataset["test"]) else dataset["train"]
    casual_ids = [i for i, d in enumerate(held_out["domain"]) if d == 0][: args.num_samples]
    samples = [example_to_tensors(held_out[i], args.resolution) for i in casual_ids]

    g_ab, g_ba, d_a, d_b = build_models(args)
    if args.init_from:
        init_from((g_ab, g_ba, d_a, d_b), Path(args.init_from), accelerator)
    opt_g = torch.optim.Adam(chain(g_ab.parameters(), g_ba.parameters()), lr=args.learning_rate,
                             betas=(args.adam_beta1, 0.999))
    d_params = [p for p in chain(d_a.parameters(), d_b.parameters()) if p.requires_grad]
    opt_d = torch.optim.Adam(d_params, lr=args.discriminator_learning_rate or args.learning_rate,
                             betas=(args.adam_beta1, 0.999))
    # accelerate steps a prepared scheduler once per process at each optimisation step (for the larger global
    # batch): count the schedule in those steps.
    schedule = lr_lambda(args.max_train_steps * accelerator.num_processes, args.decay_start)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, schedule)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, schedule)
    g_ab, g_ba, d_a, d_b, opt_g, opt_d, loader, sched_g, sched_d = accelerator.prepare(
        g_ab, g_ba, d_a, d_b, opt_g, opt_d, loader, sched_g, sched_d)
    # The pools differ per process (each holds its own fakes): saved per process by save_checkpoint, not by accelerate,
    # which writes registered objects from the main process only.
    pool_a, pool_b, progress = ImagePool(args.pool_size), ImagePool(args.pool_size), TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    models = (g_ab, g_ba, d_a, d_b)
    if accelerator.is_main_process and report_to != "none":
        accelerator.init_trackers("cyclegan-biz", config={k: v for k, v in vars(args).items() if v is not None})

    global_step = 0
    checkpoint = resolve_checkpoint(args, output_dir)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        load_pools(checkpoint, accelerator.process_index, (pool_a, pool_b))
        global_step = int(checkpoint.name.split("-")[1])
        accelerator.print(f"Resumed from {checkpoint} at step {global_step}")
    elif args.resume_from_checkpoint:
        accelerator.print("No checkpoint found: starting from scratch.")

    steps_per_epoch = len(loader)
    bar = tqdm(total=args.max_train_steps, initial=global_step, desc="training",
               disable=not accelerator.is_local_main_process)
    log_file = output_dir / "logs" / "train_log.jsonl"
    try:
        while global_step < args.max_train_steps:
            epoch, skip = divmod(global_step, steps_per_epoch)
            loader.set_epoch(epoch)
            train_set.set_epoch(epoch)
            epoch_loader = accelerator.skip_first_batches(loader, skip) if skip else loader
            for batch in epoch_loader:
                started = time.perf_counter()
                losses = train_step(batch, models, (opt_g, opt_d), (sched_g, sched_d), (pool_a, pool_b),
                                    accelerator, args)
                progress.seconds += time.perf_counter() - started
                global_step += 1
                bar.update(1)
                if global_step % args.log_steps == 0:  # on every process: the mean over processes is collective
                    logs = mean_over_processes(accelerator, losses)
                    bar.set_postfix(g=f"{logs['g_total']:.3f}", d=f"{logs['d_total']:.3f}")
                    if accelerator.is_main_process:
                        logs.update(step=global_step, seconds=round(progress.seconds, 1), lr=sched_g.get_last_lr()[0])
                        with log_file.open("a") as handle:
                            handle.write(json.dumps(logs) + "\n")
                        accelerator.log(logs, step=global_step)
                if global_step % args.sample_steps == 0 and accelerator.is_main_process:
                    write_samples(accelerator, models, samples, output_dir, global_step)
                if global_step % args.checkpointing_steps == 0:
                    save_checkpoint(accelerator, args, output_dir, global_step, models, (pool_a, pool_b))
                if global_step >= args.max_train_steps:
                    break
    except KeyboardInterrupt:
        accelerator.print("Interrupted: saving a checkpoint before exiting.")
        # No barriers: another process may not have been interrupted (or may be gone).
        save_checkpoint(accelerator, args, output_dir, global_step, models, (pool_a, pool_b), synchronize=False)
        raise SystemExit(130) from None
    bar.close()
    if not (output_dir / f"checkpoint-{global_step}").exists():
        save_checkpoint(accelerator, args, output_dir, global_step, models, (pool_a, pool_b))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_samples(accelerator, models, samples, output_dir, global_step)
        CycleGAN(*(accelerator.unwrap_model(m) for m in models)).save_pretrained(output_dir)
        accelerator.print(f"Saved the model (Hub layout) to {output_dir}")
    accelerator.end_training()


if __name__ == "__main__":
    main()
