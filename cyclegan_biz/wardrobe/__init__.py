"""Outfits cut from real business portraits, and everything needed to store, list and pick them."""

from .vocabulary import ATTIRE_CHOICES, ATTIRES, OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE, attire_for_gender

__all__ = ["ATTIRES", "ATTIRE_CHOICES", "OUTFIT_AUTO", "OUTFIT_KEEP", "OUTFIT_NONE", "attire_for_gender"]
