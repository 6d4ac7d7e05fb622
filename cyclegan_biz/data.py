"""Kept until phase 2 of issue 9 moves ``cli.py`` to ``cyclegan_biz.sources``: the CLI still imports ``iter_images``
from here. Image discovery lives in ``cyclegan_biz.sources``, the dataset in ``cyclegan_biz.training.dataset``."""

from .sources import iter_images

__all__ = ["iter_images"]
