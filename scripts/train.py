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
from itertools import chain
from pathlib import Path

from torch.utils.data import DataLoader

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizGenerator, CycleBizProjectedDiscriminator
from cyclegan_biz.models.cyclegan import CycleGAN
from cyclegan_biz.training.checkpoints import TrainingProgress, init_from, load_pools, save_checkpoint, start_run
from cyclegan_biz.training.dataset import UnpairedImageDataset, example_to_tensors, load_dataset_any
from cyclegan_biz.training.loop import adam_with_schedules, prepare, resume, start_logs, train_loop
from cyclegan_biz.training.options import add_loss_options, add_run_options
from cyclegan_biz.training.samples import write_samples
from cyclegan_biz.training.step import ImagePool, train_step


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
    log_file = start_logs(accelerator, args, output_dir, report_to, folders=("samples",))

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
    d_params = [p for p in chain(d_a.parameters(), d_b.parameters()) if p.requires_grad]
    optimizers, schedulers = adam_with_schedules(
        [(chain(g_ab.parameters(), g_ba.parameters()), args.learning_rate),
         (d_params, args.discriminator_learning_rate or args.learning_rate)], args, accelerator)
    models, optimizers, loader, schedulers = prepare(accelerator, (g_ab, g_ba, d_a, d_b), optimizers, loader,
                                                     schedulers)
    # The pools differ per process (each holds its own fakes): saved per process by save_checkpoint, not by accelerate,
    # which writes registered objects from the main process only.
    pools, progress = (ImagePool(args.pool_size), ImagePool(args.pool_size)), TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    global_step = resume(accelerator, args, output_dir,
                         lambda checkpoint: load_pools(checkpoint, accelerator.process_index, pools))

    def after_step(step: int, saved: bool) -> None:
        if step % args.sample_steps == 0 and accelerator.is_main_process:
            write_samples(accelerator, models, samples, output_dir, step)

    global_step = train_loop(
        accelerator, args, loader, train_set,
        lambda batch: train_step(batch, models, optimizers, schedulers, pools, accelerator, args),
        lambda step, synchronize: save_checkpoint(accelerator, args, output_dir, step, models, pools, synchronize),
        global_step=global_step, progress=progress, log_file=log_file, after_step=after_step,
        log_fields=lambda: {"lr": schedulers[0].get_last_lr()[0]})
    if accelerator.is_main_process:
        write_samples(accelerator, models, samples, output_dir, global_step)
        CycleGAN(*(accelerator.unwrap_model(m) for m in models)).save_pretrained(output_dir)
        accelerator.print(f"Saved the model (Hub layout) to {output_dir}")
    accelerator.end_training()


if __name__ == "__main__":
    main()
