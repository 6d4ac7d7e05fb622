"""One optimisation step of the finisher (issue 12): the supervised warm start, and the unpaired stage that keeps
the seed's method (cycle, face-mask, background uniformity, semi-supervised class head) with the discriminators
judged on the seam band. ``scripts/train_finisher.py`` runs them in ``loop.train_loop``.

Batches are dicts of ``FinisherExamples`` tensors: a warm-start batch has ``input``, ``target``, ``loss_mask`` and the
masks; an unpaired batch has the composite's (``*_a``) and the real portrait's (``*_b``) masks and images.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .augment import diff_augment
from .losses import (
    background_uniformity_loss,
    classification_loss,
    cycle_loss,
    face_mask_loss,
    lab_l1,
    masked_l1,
)
from .step import choose_attire


def finish(model, batch: dict, suffix: str = "", image: torch.Tensor | None = None) -> torch.Tensor:
    """``model`` applied to ``image`` (default: the batch's ``input<suffix>``) with the batch's masks."""
    image = batch[f"input{suffix}"] if image is None else image
    return model(image, batch[f"band{suffix}"], batch[f"face{suffix}"], batch[f"person{suffix}"])


def supervised_losses(output: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
    """L1 in RGB and in Lab against the warm-start target, on the seam band (of the target's person, in the photo)."""
    return {"l1": masked_l1(output, batch["target"], batch["loss_mask"]),
            "lab": lab_l1(output, batch["target"], batch["loss_mask"])}


def warm_start_step(batch, finisher, optimizer, scheduler, accelerator, args) -> dict[str, torch.Tensor]:
    output = finish(finisher, batch)
    losses = supervised_losses(output, batch)
    losses["face"] = face_mask_loss(batch["input"], output, batch["face"])  # 0 by construction; logged as a check
    total = losses["l1"] + args.lambda_lab * losses["lab"]
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(total)
    optimizer.step()
    scheduler.step()
    return {**losses, "g_total": total}


def banded_lsgan(logits: torch.Tensor, band: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """LSGAN loss of a patch discriminator counted only where the seam band is (band resized to the patch grid):
    the discriminator judges the seams, not the outfit (which would pull every outfit toward the average one)."""
    weight = F.adaptive_avg_pool2d(band, logits.shape[-2:])
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    return (((logits - target) ** 2) * weight).sum() / (weight.sum() + 1e-6)


def judge(discriminator, image: torch.Tensor, band: torch.Tensor, augment: bool):
    """The discriminator's output on ``image`` and the band its patches are weighted by (both moved together when
    ``augment``: differentiable augmentation, ``training.augment``)."""
    if augment:
        image, band = diff_augment(image, band)
    return discriminator(image), band


def unpaired_generator_losses(batch, f_ab, f_ba, d_a, d_b, args):
    real_a, real_b = batch["input_a"], batch["input_b"]
    attire_a = choose_attire(batch["label_a"], d_a, real_a)
    fake_b = finish(f_ab, batch, "_a")
    fake_a = finish(f_ba, batch, "_b")
    rec_a = finish(f_ba, batch, "_a", fake_b)
    rec_b = finish(f_ab, batch, "_b", fake_a)
    (out_b, band_b), (out_a, band_a) = (judge(d_b, fake_b, batch["band_a"], args.diff_augment),
                                        judge(d_a, fake_a, batch["band_b"], args.diff_augment))
    losses = {
        "g_adv": banded_lsgan(out_b.patch, band_b, True) + banded_lsgan(out_a.patch, band_a, True),
        "g_class": classification_loss(out_b.class_logits, attire_a)
        + classification_loss(out_a.class_logits, batch["label_b"]),
        "cycle": cycle_loss(real_a, rec_a, batch["valid_a"]) + cycle_loss(real_b, rec_b, batch["valid_b"]),
        "face": face_mask_loss(real_a, fake_b, batch["face_a"]) + face_mask_loss(real_b, fake_a, batch["face_b"]),
        "background": background_uniformity_loss(fake_b, batch["person_a"], batch["valid_a"]),
    }
    total = (losses["g_adv"] + args.lambda_class * losses["g_class"] + args.lambda_cycle * losses["cycle"]
             + args.lambda_face * losses["face"] + args.lambda_background * losses["background"])
    return total, losses, fake_a.detach(), fake_b.detach()


def unpaired_step(batch, models, optimizers, scheduler_list, accelerator, args) -> dict[str, torch.Tensor]:
    """One generator and one discriminator update of the unpaired stage; with a ``warm`` sub-batch the supervised
    terms are kept (weighted by ``--lambda_supervised``) so the stage does not drift from the warm start."""
    f_ab, f_ba, d_a, d_b = models
    opt_g, opt_d = optimizers
    total_g, losses, fake_a, fake_b = unpaired_generator_losses(batch, f_ab, f_ba, d_a, d_b, args)
    if "warm" in batch:
        supervised = supervised_losses(finish(f_ab, batch["warm"]), batch["warm"])
        losses.update(supervised)
        total_g = total_g + args.lambda_supervised * (supervised["l1"] + args.lambda_lab * supervised["lab"])
    opt_g.zero_grad(set_to_none=True)
    accelerator.backward(total_g)
    opt_g.step()
    total_d = torch.zeros((), device=fake_a.device)
    # No history pool of fakes: each fake is judged on its own band, which a pool would have to keep too.
    for discriminator, real, fake, band_real, band_fake, labels in (
            (d_a, batch["input_a"], fake_a, batch["band_a"], batch["band_b"], batch["label_a"]),
            (d_b, batch["input_b"], fake_b, batch["band_b"], batch["band_a"], batch["label_b"])):
        (out_real, band_real), (out_fake, band_fake) = (judge(discriminator, real, band_real, args.diff_augment),
                                                        judge(discriminator, fake, band_fake, args.diff_augment))
        adversarial = 0.5 * (banded_lsgan(out_real.patch, band_real, True)
                             + banded_lsgan(out_fake.patch, band_fake, False))
        total_d = total_d + adversarial + args.lambda_class * classification_loss(out_real.class_logits, labels)
    opt_d.zero_grad(set_to_none=True)
    accelerator.backward(total_d)
    opt_d.step()
    for scheduler in scheduler_list:
        scheduler.step()
    return {**losses, "g_total": total_g, "d_total": total_d}
