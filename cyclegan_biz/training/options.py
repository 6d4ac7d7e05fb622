"""Command-line options shared by the training scripts (``scripts/train.py``, ``scripts/train_finisher.py``)."""

from __future__ import annotations

import argparse


def add_loss_options(p: argparse.ArgumentParser) -> None:
    """The seed's loss weights (cycle, face mask, background uniformity, class head)."""
    p.add_argument("--lambda_cycle", type=float, default=10.0)
    p.add_argument("--lambda_face", type=float, default=10.0)
    p.add_argument("--lambda_background", type=float, default=2.0)
    p.add_argument("--lambda_class", type=float, default=1.0)


def add_run_options(p: argparse.ArgumentParser, max_train_steps: int | None, batch_size: int, checkpointing_steps: int,
                    report_to: str = "auto") -> None:
    """Steps, optimiser, precision, checkpoints, logging and devices, with the script's own defaults."""
    p.add_argument("--max_train_steps", type=int, default=max_train_steps)
    p.add_argument("--train_batch_size", type=int, default=batch_size)
    p.add_argument("--learning_rate", type=float, default=2e-4)
    p.add_argument("--decay_start", type=float, default=0.5, help="share of the steps at constant lr, then linear")
    p.add_argument("--adam_beta1", type=float, default=0.5)
    p.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="no")
    p.add_argument("--checkpointing_steps", type=int, default=checkpointing_steps)
    p.add_argument("--checkpoints_total_limit", type=int, default=3)
    p.add_argument("--resume_from_checkpoint", default=None, help='a checkpoint folder or "latest"')
    p.add_argument("--log_steps", type=int, default=10, help="how often to write the loss log")
    p.add_argument("--dataloader_num_workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true",
                   help="train on the CPU even with a GPU; several processes then talk over gloo")
    p.add_argument("--report_to", default=report_to, help='"tensorboard", "none" or "auto" (tensorboard if installed)')
