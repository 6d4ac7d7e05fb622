"""The training loop both scripts run (``scripts/train.py``, ``scripts/train_finisher.py``): the run's folder and loss
log, Adam optimisers with the learning-rate schedule, resuming from a checkpoint, epochs that a resumed run re-enters
where it stopped, checkpoints (also on Ctrl-C or ``kill``) and the last one. What a step does is the script's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .checkpoints import TrainingProgress, checkpoint_step, resolve_checkpoint
from .step import lr_lambda, mean_over_processes

LOG_NAME = "train_log.jsonl"


def start_logs(accelerator, args, output_dir: Path, report_to: str, folders: Sequence[str] = ()) -> Path:
    """On the main process: ``logs/`` (and ``folders``) in the output folder, ``training_args.json`` and the tracker
    (``report_to``). Returns the path of the loss log."""
    if accelerator.is_main_process:
        for folder in ("logs", *folders):
            (output_dir / folder).mkdir(parents=True, exist_ok=True)
        (output_dir / "training_args.json").write_text(json.dumps(vars(args), indent=2))
        if report_to != "none":
            accelerator.init_trackers("cyclegan-biz", config={k: v for k, v in vars(args).items() if v is not None})
    return output_dir / "logs" / LOG_NAME


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def adam_with_schedules(groups: Sequence[tuple[Iterable[torch.nn.Parameter], float]], args, accelerator):
    """``(optimizers, schedulers)``: one Adam (beta1 ``--adam_beta1``) per ``(parameters, learning rate)``, each with
    a constant rate that decays linearly to 0 from ``--decay_start``."""
    optimizers = [torch.optim.Adam(params, lr=lr, betas=(args.adam_beta1, 0.999)) for params, lr in groups]
    # accelerate steps a prepared scheduler once per process at each optimisation step (for the larger global
    # batch): count the schedule in those steps.
    schedule = lr_lambda(args.max_train_steps * accelerator.num_processes, args.decay_start)
    return optimizers, [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in optimizers]


def prepare(accelerator, models: Sequence, optimizers: Sequence, loader, schedulers: Sequence):
    """``accelerator.prepare`` in the order checkpoints keep (models, optimizers, loader, schedulers); returns the
    four again, prepared."""
    prepared = accelerator.prepare(*models, *optimizers, loader, *schedulers)
    n_models, n_optimizers = len(models), len(optimizers)
    return (list(prepared[:n_models]), list(prepared[n_models: n_models + n_optimizers]),
            prepared[n_models + n_optimizers], list(prepared[n_models + n_optimizers + 1:]))


def resume(accelerator, args, output_dir: Path, load_more: Callable[[Path], None] | None = None) -> int:
    """The step to start from: that of ``--resume_from_checkpoint`` (whose state is loaded, plus ``load_more(path)``
    for what accelerate does not keep), else 0."""
    checkpoint = resolve_checkpoint(args, output_dir)
    if checkpoint is None:
        if args.resume_from_checkpoint:
            accelerator.print("No checkpoint found: starting from scratch.")
        return 0
    accelerator.load_state(str(checkpoint))
    if load_more is not None:
        load_more(checkpoint)
    step = checkpoint_step(checkpoint)
    accelerator.print(f"Resumed from {checkpoint} at step {step}")
    return step


def forever(loader, dataset=None) -> Iterator:
    """The batches of ``loader``, epoch after epoch (none when it has none); each pass sets the next epoch on
    ``loader`` and ``dataset`` when they take one (``set_epoch``), so per-item draws such as flips change per pass."""
    epoch = 0
    while True:
        _set_epoch(epoch, loader, dataset)
        epoch += 1
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            return


def _set_epoch(epoch: int, *users) -> None:
    """``set_epoch(epoch)`` on each of ``users`` that takes one (loaders, ``SeededItems`` datasets)."""
    for user in users:
        if hasattr(user, "set_epoch"):
            user.set_epoch(epoch)


def train_loop(accelerator, args, loader, dataset, step: Callable[[dict], dict[str, torch.Tensor]],
               save: Callable[[int, bool], None], *, global_step: int, progress: TrainingProgress, log_file: Path,
               desc: str = "training", log_fields: Callable[[], dict[str, Any]] = dict,
               after_step: Callable[[int, bool], None] | None = None,
               out_of_time: Callable[[], bool] = lambda: False) -> int:
    """Runs ``step(batch)`` from ``global_step`` to ``--max_train_steps`` (or until ``out_of_time()``) and returns the
    last step. Epoch e of ``loader`` and ``dataset`` (``set_epoch``) skips the batches a resumed run already saw. Every
    ``--log_steps`` the losses, averaged over processes, go to ``log_file`` with the step, the training seconds and
    ``log_fields()``. ``save(step, synchronize)`` writes a checkpoint every ``--checkpointing_steps``, when out of
    time, at the end (unless that step has one) and on Ctrl-C or ``kill`` (then exits 130).
    ``after_step(step, saved)`` runs on every process after each step."""
    bar = tqdm(total=args.max_train_steps, initial=global_step, desc=desc,
               disable=not accelerator.is_local_main_process)
    stop = False
    saved_at = global_step if global_step else None  # a resumed run's step has its checkpoint already
    try:
        while global_step < args.max_train_steps and not stop:
            epoch, skip = divmod(global_step, len(loader))
            _set_epoch(epoch, loader, dataset)
            for batch in accelerator.skip_first_batches(loader, skip) if skip else loader:
                started = time.perf_counter()
                losses = step(batch)
                progress.seconds += time.perf_counter() - started
                global_step += 1
                bar.update(1)
                stop = out_of_time()
                if global_step % args.log_steps == 0:  # on every process: the mean over processes is collective
                    logs = mean_over_processes(accelerator, losses)
                    bar.set_postfix({k[0]: f"{logs[k]:.3f}" for k in ("g_total", "d_total") if k in logs})
                    if accelerator.is_main_process:
                        logs.update(step=global_step, seconds=round(progress.seconds, 1), **log_fields())
                        append_jsonl(log_file, logs)
                        accelerator.log(logs, step=global_step)
                saved = global_step % args.checkpointing_steps == 0 or stop
                if saved:
                    save(global_step, True)
                    saved_at = global_step
                if after_step is not None:
                    after_step(global_step, saved)
                if global_step >= args.max_train_steps or stop:
                    break
    except KeyboardInterrupt:
        accelerator.print("Interrupted: saving a checkpoint before exiting.")
        save(global_step, False)  # no barriers: another process may not have been interrupted (or may be gone)
        raise SystemExit(130) from None
    bar.close()
    if saved_at != global_step:  # not the disk: an older run's checkpoint of that step is no checkpoint of this one
        save(global_step, True)
    accelerator.wait_for_everyone()
    return global_step
