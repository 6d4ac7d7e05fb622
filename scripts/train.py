"""Train the selfie-to-business CycleGAN (face-mask loss, uniform background, semi-supervised attire classes).

    accelerate launch scripts/train.py --dataset data/selfie2biz-256 --output_dir runs/selfie2biz
    python scripts/train.py --dataset data/selfie2biz-256 --output_dir runs/selfie2biz   # one CPU process

The dataset is a ``save_to_disk`` folder (or Hub id) made by ``scripts/prepare_dataset.py``. The output folder gets
``checkpoint-N/`` states (resume with ``--resume_from_checkpoint latest``), ``logs/train_log.jsonl``, sample
grids in ``samples/`` and, at the end, the model in Hub layout (A2B generator at the root).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import time
from itertools import chain
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import (
    DataLoaderConfiguration,
    DistributedDataParallelKwargs,
    ProjectConfiguration,
    set_seed,
)
from PIL import Image
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cyclegan_biz.models import CycleBizDiscriminator, CycleBizGenerator, CycleBizProjectedDiscriminator
from cyclegan_biz.models.cyclegan import CycleGAN
from cyclegan_biz.training.dataset import UnpairedImageDataset, example_to_tensors, load_dataset_any
from cyclegan_biz.training.losses import (
    background_uniformity_loss,
    classification_loss,
    cycle_loss,
    face_mask_loss,
    identity_loss,
    lsgan_loss,
)
from cyclegan_biz.visualize import image_grid

logger = get_logger(__name__)


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
    p.add_argument("--lambda_cycle", type=float, default=10.0)
    p.add_argument("--lambda_identity", type=float, default=0.0, help="0 skips the identity passes (faster)")
    p.add_argument("--lambda_face", type=float, default=10.0)
    p.add_argument("--lambda_background", type=float, default=2.0)
    p.add_argument("--lambda_class", type=float, default=1.0)
    p.add_argument("--max_train_steps", type=int, default=4000)
    p.add_argument("--train_batch_size", type=int, default=1)
    p.add_argument("--learning_rate", type=float, default=2e-4)
    p.add_argument("--discriminator_learning_rate", type=float, default=None, help="defaults to --learning_rate")
    p.add_argument("--decay_start", type=float, default=0.5, help="share of the steps at constant lr, then linear")
    p.add_argument("--adam_beta1", type=float, default=0.5)
    p.add_argument("--pool_size", type=int, default=50)
    p.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="no")
    p.add_argument("--checkpointing_steps", type=int, default=250)
    p.add_argument("--checkpoints_total_limit", type=int, default=3)
    p.add_argument("--resume_from_checkpoint", default=None, help='a checkpoint folder or "latest"')
    p.add_argument("--init_from", default=None,
                   help="start from the weights of a saved model (Hub layout); layers it lacks keep their init")
    p.add_argument("--sample_steps", type=int, default=250, help="write a sample grid every N steps")
    p.add_argument("--num_samples", type=int, default=4, help="held-out casual photos in the sample grid")
    p.add_argument("--log_steps", type=int, default=10, help="how often to write the loss log")
    p.add_argument("--dataloader_num_workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report_to", default="auto", help='"tensorboard", "none" or "auto" (tensorboard if installed)')
    return p.parse_args(argv)


class ImagePool:
    """History of generated images for the discriminators (Shrivastava et al. 2017), checkpointable."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.cpu())
                out.append(image)
            elif random.random() < 0.5:
                index = random.randrange(self.size)
                out.append(self.images[index].to(image.device))
                self.images[index] = image.cpu()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": torch.stack(self.images) if self.images else torch.empty(0)}

    def load_state_dict(self, state: dict) -> None:
        self.images = list(state["images"].unbind(0)) if state["images"].numel() else []


class TrainingProgress:
    """Checkpointable counters and the wall-clock time spent training (for equal-time comparisons)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.seconds = float(state["seconds"])


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


def init_from(models, folder: Path, accelerator) -> None:
    """Fine-tune: copy every matching tensor of a saved model (root + subfolders) into the new models."""
    from safetensors.torch import load_file

    for model, sub in zip(models, ("", "generator_b2a", "discriminator_a", "discriminator_b"), strict=True):
        path = folder / sub / "diffusion_pytorch_model.safetensors"
        if not path.is_file():
            continue
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        accelerator.print(f"init from {path}: {len(missing)} new tensors {missing[:4]}, {len(unexpected)} unused")


def lr_lambda(max_steps: int, decay_start: float):
    start = int(max_steps * decay_start)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, max_steps - start))

    return factor


def choose_attire(labels: torch.Tensor, discriminator, images: torch.Tensor) -> torch.Tensor:
    """Semi-supervised attire targets: the gender label where known, else the discriminator's own guess."""
    if bool((labels >= 0).all()):
        return labels
    with torch.no_grad():
        logits = discriminator(images).class_logits
    guess = logits.argmax(dim=1) if logits is not None else torch.randint_like(labels, 2)
    return torch.where(labels >= 0, labels, guess)


def generator_losses(batch, g_ab, g_ba, d_a, d_b, args):
    real_a, real_b = batch["image_a"], batch["image_b"]
    attire_a = choose_attire(batch["gender_a"], d_a, real_a)
    attire_b = choose_attire(batch["gender_b"], d_b, real_b)
    fake_b = g_ab(real_a, attire_a)
    fake_a = g_ba(real_b)
    rec_a = g_ba(fake_b)
    rec_b = g_ab(fake_a, attire_b)
    out_b, out_a = d_b(fake_b), d_a(fake_a)
    losses = {
        "g_adv": lsgan_loss(out_b.patch, True) + lsgan_loss(out_a.patch, True),
        "g_class": classification_loss(out_b.class_logits, attire_a)
        + classification_loss(out_a.class_logits, batch["gender_b"]),
        "cycle": cycle_loss(real_a, rec_a, batch["valid_mask_a"]) + cycle_loss(real_b, rec_b, batch["valid_mask_b"]),
        "face": face_mask_loss(real_a, fake_b, batch["face_mask_a"])
        + face_mask_loss(real_b, fake_a, batch["face_mask_b"]),
        "background": background_uniformity_loss(fake_b, batch["person_mask_a"], batch["valid_mask_a"]),
    }
    total = (losses["g_adv"] + args.lambda_class * losses["g_class"] + args.lambda_cycle * losses["cycle"]
             + args.lambda_face * losses["face"] + args.lambda_background * losses["background"])
    if args.lambda_identity > 0:
        losses["identity"] = identity_loss(real_b, g_ab(real_b, attire_b), batch["valid_mask_b"]) + identity_loss(
            real_a, g_ba(real_a), batch["valid_mask_a"])
        total = total + args.lambda_cycle * args.lambda_identity * losses["identity"]
    return total, losses, fake_a.detach(), fake_b.detach()


def discriminator_losses(discriminator, real, fake, labels):
    out_real = discriminator(real)
    out_fake = discriminator(fake)
    adversarial = 0.5 * (lsgan_loss(out_real.patch, True) + lsgan_loss(out_fake.patch, False))
    return adversarial, classification_loss(out_real.class_logits, labels)


def checkpoint_steps(output_dir: Path) -> list[Path]:
    return sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(accelerator, args, output_dir: Path, step: int, models) -> None:
    if not accelerator.is_main_process:
        return
    existing = checkpoint_steps(output_dir)
    if args.checkpoints_total_limit and len(existing) >= args.checkpoints_total_limit:
        for old in existing[: len(existing) - args.checkpoints_total_limit + 1]:
            shutil.rmtree(old)
    path = output_dir / f"checkpoint-{step}"
    accelerator.save_state(str(path))
    g_ab, _, d_a, _ = (accelerator.unwrap_model(m) for m in models)
    CycleGAN(g_ab, discriminator_a=d_a).save_pretrained(path / "model")  # loadable snapshot for comparisons
    logger.info(f"Saved {path}")


def resolve_checkpoint(args, output_dir: Path) -> Path | None:
    if not args.resume_from_checkpoint:
        return None
    if args.resume_from_checkpoint != "latest":
        return Path(args.resume_from_checkpoint)
    existing = checkpoint_steps(output_dir)
    return existing[-1] if existing else None


@torch.no_grad()
def sample_grid(g_ab, g_ba, samples: list[dict], device) -> Image.Image:
    """Per held-out photo: input | suit | blazer | reconstructed | face mask | person mask."""
    tiles = []

    def to_image(t: torch.Tensor) -> Image.Image:
        array = ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(array)

    for sample in samples:
        image = sample["image"][None].to(device)
        suit = g_ab(image, torch.tensor([1], device=device))
        blazer = g_ab(image, torch.tensor([0], device=device))
        rec = g_ba(suit)
        face = image * (0.4 + 0.6 * sample["face_mask"][None].to(device))
        person = image * (0.4 + 0.6 * sample["person_mask"][None].to(device))
        tiles += [to_image(x[0]) for x in (image, suit, blazer, rec, face, person)]
    return image_grid(tiles, 6)


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Ctrl-C and `kill` (also for nohup'd runs, whose SIGINT is ignored) save a checkpoint before exiting.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    output_dir = Path(args.output_dir)
    report_to = args.report_to
    if report_to == "auto":
        try:
            import tensorboard  # noqa: F401

            report_to = "tensorboard"
        except ImportError:
            report_to = "none"
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        log_with=None if report_to == "none" else report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # Class heads see no gradient in batches without labels: let DDP tolerate unused parameters.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    set_seed(args.seed)
    if accelerator.is_main_process:
        (output_dir / "samples").mkdir(parents=True, exist_ok=True)
        (output_dir / "logs").mkdir(parents=True, exist_ok=True)
        (output_dir / "training_args.json").write_text(json.dumps(vars(args), indent=2))

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
    # Schedulers are stepped once per optimisation step on every process, so count steps directly.
    schedule = lr_lambda(args.max_train_steps, args.decay_start)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, schedule)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, schedule)
    g_ab, g_ba, d_a, d_b, opt_g, opt_d, loader, sched_g, sched_d = accelerator.prepare(
        g_ab, g_ba, d_a, d_b, opt_g, opt_d, loader, sched_g, sched_d)
    pool_a, pool_b, progress = ImagePool(args.pool_size), ImagePool(args.pool_size), TrainingProgress()
    for stateful in (pool_a, pool_b, progress):
        accelerator.register_for_checkpointing(stateful)
    models = (g_ab, g_ba, d_a, d_b)
    if accelerator.is_main_process and report_to != "none":
        accelerator.init_trackers("cyclegan-biz", config={k: v for k, v in vars(args).items() if v is not None})

    global_step = 0
    checkpoint = resolve_checkpoint(args, output_dir)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
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
                logs = train_step(batch, models, (opt_g, opt_d), (sched_g, sched_d), (pool_a, pool_b),
                                  accelerator, args)
                progress.seconds += time.perf_counter() - started
                global_step += 1
                bar.update(1)
                bar.set_postfix(g=f"{logs['g_total']:.3f}", d=f"{logs['d_total']:.3f}")
                if accelerator.is_main_process and global_step % args.log_steps == 0:
                    logs.update(step=global_step, seconds=round(progress.seconds, 1), lr=sched_g.get_last_lr()[0])
                    with log_file.open("a") as handle:
                        handle.write(json.dumps(logs) + "\n")
                    accelerator.log(logs, step=global_step)
                if global_step % args.sample_steps == 0 and accelerator.is_main_process:
                    write_samples(accelerator, models, samples, output_dir, global_step)
                if global_step % args.checkpointing_steps == 0:
                    accelerator.wait_for_everyone()
                    save_checkpoint(accelerator, args, output_dir, global_step, models)
                if global_step >= args.max_train_steps:
                    break
    except KeyboardInterrupt:
        accelerator.print("Interrupted: saving a checkpoint before exiting.")
        save_checkpoint(accelerator, args, output_dir, global_step, models)
        raise SystemExit(130) from None
    bar.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if not (output_dir / f"checkpoint-{global_step}").exists():
            save_checkpoint(accelerator, args, output_dir, global_step, models)
        write_samples(accelerator, models, samples, output_dir, global_step)
        CycleGAN(*(accelerator.unwrap_model(m) for m in models)).save_pretrained(output_dir)
        accelerator.print(f"Saved the model (Hub layout) to {output_dir}")
    accelerator.end_training()


def train_step(batch, models, optimizers, schedulers, pools, accelerator, args) -> dict[str, float]:
    g_ab, g_ba, d_a, d_b = models
    opt_g, opt_d = optimizers
    pool_a, pool_b = pools
    # Discriminator gradients from the generator pass are discarded by opt_d.zero_grad below; toggling
    # requires_grad instead would break DDP's gradient hooks.
    total_g, losses, fake_a, fake_b = generator_losses(batch, g_ab, g_ba, d_a, d_b, args)
    opt_g.zero_grad(set_to_none=True)
    accelerator.backward(total_g)
    opt_g.step()
    # Discriminators on real images and on the history pool of fakes.
    adv_a, cls_a = discriminator_losses(d_a, batch["image_a"], pool_a.query(fake_a), batch["gender_a"])
    adv_b, cls_b = discriminator_losses(d_b, batch["image_b"], pool_b.query(fake_b), batch["gender_b"])
    total_d = adv_a + adv_b + args.lambda_class * (cls_a + cls_b)
    opt_d.zero_grad(set_to_none=True)
    accelerator.backward(total_d)
    opt_d.step()
    for scheduler in schedulers:
        scheduler.step()
    logs = {name: float(value.detach()) for name, value in losses.items()}
    logs.update(g_total=float(total_g.detach()), d_total=float(total_d.detach()), d_adv_a=float(adv_a.detach()),
                d_adv_b=float(adv_b.detach()), d_class_a=float(cls_a.detach()), d_class_b=float(cls_b.detach()))
    return logs


def write_samples(accelerator, models, samples, output_dir: Path, step: int) -> None:
    if not samples:
        return
    g_ab, g_ba = (accelerator.unwrap_model(m) for m in models[:2])
    was_training = g_ab.training
    g_ab.eval()
    g_ba.eval()
    sample_grid(g_ab, g_ba, samples, accelerator.device).save(output_dir / "samples" / f"step-{step:06d}.png")
    if was_training:
        g_ab.train()
        g_ba.train()


if __name__ == "__main__":
    main()
