"""Training (needs the ``train`` extra). ``scripts/train.py`` and ``scripts/train_finisher.py`` parse the options and
run ``loop.train_loop`` with accelerate.

=================  ==========================================================================================
``dataset``        folders of photos -> aligned crops with face/person/valid masks; the unpaired training view
``losses``         LSGAN, cycle, identity, face-mask, background-uniformity and class losses
``step``           one optimisation step (generator + discriminators), image pool, lr schedule, logged losses
``checkpoints``    save / resume (per-process state included), fine-tuning from a saved model
``loop``           the loop both scripts run: epochs, resuming mid-epoch, loss log, checkpoints, Ctrl-C
``samples``        sample grids written during training
=================  ==========================================================================================

Nothing at inference imports this package (the pipeline needs only ``cyclegan_biz.constants.PAD_VALUE``).
"""
