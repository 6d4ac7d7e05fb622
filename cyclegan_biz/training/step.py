"""One CycleGAN optimisation step: the generator and discriminator objectives, the history pool of fakes, the learning
rate schedule, and the losses averaged over processes for the log. ``scripts/train.py`` runs it in
``loop.train_loop``."""

from __future__ import annotations

import random

import torch

from .losses import (
    background_uniformity_loss,
    classification_loss,
    cycle_loss,
    face_mask_loss,
    identity_loss,
    lsgan_loss,
)


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


def train_step(batch, models, optimizers, schedulers, pools, accelerator, args) -> dict[str, torch.Tensor]:
    """One generator and one discriminator update; returns this process's losses (tensors, not yet synchronised)."""
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
    return {**losses, "g_total": total_g, "d_total": total_d, "d_adv_a": adv_a, "d_adv_b": adv_b, "d_class_a": cls_a,
            "d_class_b": cls_b}


def mean_over_processes(accelerator, losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """Each loss averaged over all processes (one all-reduce for all of them), as plain floats for the log."""
    names = sorted(losses)
    values = accelerator.reduce(torch.stack([losses[name].detach().float() for name in names]), reduction="mean")
    return dict(zip(names, values.tolist(), strict=True))
