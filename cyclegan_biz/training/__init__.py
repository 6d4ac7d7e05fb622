"""Training: the unpaired dataset (``dataset``) and the losses (``losses``). ``scripts/train.py`` runs the loop.

Nothing at inference imports this package (the pipeline needs only ``cyclegan_biz.constants.PAD_VALUE``).
"""
