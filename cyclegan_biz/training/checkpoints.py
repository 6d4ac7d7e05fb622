"""The accelerator and checkpoints of a training run: accelerate's state (weights, optimisers, schedulers, random
states per process), the image pools per process, a loadable model snapshot, and fine-tuning from a saved model."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate.logging import get_logger

from ..models.cyclegan import CycleGAN

logger = get_logger(__name__)
CYCLEGAN_PARTS = ("", "generator_b2a", "discriminator_a", "discriminator_b")  # Hub layout: A2B at the root


class TrainingProgress:
    """Checkpointable counters and the wall-clock time spent training (for equal-time comparisons)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.seconds = float(state["seconds"])


def checkpoint_step(checkpoint: Path) -> int:
    """The step of a ``checkpoint-<step>`` folder."""
    return int(checkpoint.name.split("-")[1])


def checkpoint_steps(output_dir: Path) -> list[Path]:
    return sorted(output_dir.glob("checkpoint-*"), key=checkpoint_step)


def export_cyclegan(models, folder: Path) -> None:
    """The loadable snapshot of a CycleGAN run: the A2B generator (root) and discriminator A."""
    g_ab, _, d_a, _ = models
    CycleGAN(g_ab, discriminator_a=d_a).save_pretrained(folder)


def save_checkpoint(accelerator, args, output_dir: Path, step: int, models, pools, synchronize: bool = True,
                    export=export_cyclegan) -> None:
    """Called on every process: accelerate writes the weights and optimisers once (main process) and the random
    states per process; the image pools (if any) are written per process here; ``export(unwrapped models,
    folder)`` writes the loadable snapshot in ``model/``."""
    if synchronize:
        accelerator.wait_for_everyone()  # nobody still reading a checkpoint the main process is about to delete
    path = output_dir / f"checkpoint-{step}"
    if accelerator.is_main_process:
        existing = checkpoint_steps(output_dir)
        if args.checkpoints_total_limit and len(existing) >= args.checkpoints_total_limit:
            for old in existing[: len(existing) - args.checkpoints_total_limit + 1]:
                shutil.rmtree(old)
    if synchronize:
        accelerator.wait_for_everyone()
    accelerator.save_state(str(path))
    if pools:
        torch.save({name: pool.state_dict() for name, pool in zip("ab", pools, strict=True)},
                   path / f"image_pools_{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        export([accelerator.unwrap_model(m) for m in models], path / "model")  # loadable snapshot for comparisons
        logger.info(f"Saved {path}")
    if synchronize:
        accelerator.wait_for_everyone()


def load_pools(checkpoint: Path, process_index: int, pools) -> None:
    """This process's image pools from ``checkpoint`` (left empty when it was saved by fewer processes)."""
    path = checkpoint / f"image_pools_{process_index}.pt"
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        for name, pool in zip("ab", pools, strict=True):
            pool.load_state_dict(state[name])


def resolve_checkpoint(args, output_dir: Path) -> Path | None:
    if not args.resume_from_checkpoint:
        return None
    if args.resume_from_checkpoint != "latest":
        return Path(args.resume_from_checkpoint)
    existing = checkpoint_steps(output_dir)
    return existing[-1] if existing else None


def init_from(models, folder: Path, accelerator, parts: Sequence[str] = CYCLEGAN_PARTS) -> None:
    """Fine-tune: copy every matching tensor of a saved model into the new models, the i-th from subfolder
    ``parts[i]`` (``""``: the root); a part missing from ``folder`` keeps its init."""
    from safetensors.torch import load_file

    for model, sub in zip(models, parts, strict=False):
        path = folder / sub / "diffusion_pytorch_model.safetensors"
        if not path.is_file():
            continue
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        accelerator.print(f"init from {path}: {len(missing)} new tensors {missing[:4]}, {len(unexpected)} unused")


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C and `kill` (also for nohup'd runs, whose SIGINT is ignored) raise KeyboardInterrupt, so the training
    loop saves a checkpoint before exiting."""
    import signal

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def make_accelerator(args, output_dir: Path):
    """The run's ``Accelerator`` (CPU or GPU, several processes when launched so, DDP tolerant of class heads without
    gradient) and the tracker it logs to (``--report_to auto``: tensorboard if installed)."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, DistributedDataParallelKwargs, ProjectConfiguration

    report_to = args.report_to
    if report_to == "auto":
        try:
            import tensorboard  # noqa: F401

            report_to = "tensorboard"
        except ImportError:
            report_to = "none"
    accelerator = Accelerator(
        cpu=args.cpu,
        mixed_precision=args.mixed_precision,
        log_with=None if report_to == "none" else report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # Class heads see no gradient in batches without labels: let DDP tolerate unused parameters.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    return accelerator, report_to


def start_run(args):
    """``(accelerator, report_to, output_dir)`` of a training script: signals that save a checkpoint, the
    accelerator and the seed."""
    from accelerate.utils import set_seed

    stop_on_signals()
    output_dir = Path(args.output_dir)
    accelerator, report_to = make_accelerator(args, output_dir)
    set_seed(args.seed)
    return accelerator, report_to, output_dir
