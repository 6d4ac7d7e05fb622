"""Outfits cut from real business portraits, and everything needed to store, list and pick them.

- ``vocabulary``: the attire and outfit names (one place for "suit", "blazer", "auto", "keep", "none");
- ``outfit``: the ``Outfit`` dataclass (clothes and skin layers, anchors, scale, head turn, light, credit) and its
  storage (WebP layers + ``index.json``);
- ``catalogue``: the wardrobe shipped in ``outfits/``: ``load_wardrobe``, ``list_outfits``, ``get_outfit``,
  ``choose_outfit``;
- ``builder``: ``cut_outfit`` / ``outfit_from_photo`` (a user's own outfit photo), ``NoOutfitError``;
- ``collection``: building the shipped wardrobe from the business portraits (``scripts/build_wardrobe.py``);
  ``recolour`` turns a jacket to a colour no portrait that can be cut offers (the brown suits);
- ``attire_classifier``: suit or blazer for ``attire="auto"`` (``scripts/train_attire_classifier.py``).
Only the vocabulary is imported here, so importing the package stays light (no mediapipe).
"""

from .vocabulary import ATTIRE_CHOICES, ATTIRES, OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE, attire_for_gender

__all__ = ["ATTIRES", "ATTIRE_CHOICES", "OUTFIT_AUTO", "OUTFIT_KEEP", "OUTFIT_NONE", "attire_for_gender"]
