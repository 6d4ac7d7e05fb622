"""The web app's wardrobe: the outfit choices (and which values are accepted), the outfit gallery with its thumbnails
and credits, and the outfit line under a result."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from cyclegan_biz.wardrobe import catalogue
from cyclegan_biz.wardrobe.outfit import CREDITS_NOTE
from cyclegan_biz.wardrobe.vocabulary import ATTIRES, OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE, OUTFIT_SPECIAL

OUTFIT_UPLOAD = "upload"  # the Space's own outfit value: the outfit in the visitor's second upload
SPACE_SPECIAL_OUTFITS = (*OUTFIT_SPECIAL, OUTFIT_UPLOAD)  # every outfit value that is not an outfit id
OUTFIT_CHOICES = [("Auto: the default outfit for the attire", OUTFIT_AUTO), ("Keep my clothes", OUTFIT_KEEP),
                  ("My own outfit photo (upload it below)", OUTFIT_UPLOAD)]
THUMBNAIL_WIDTH = 200  # px, the gallery's outfit previews


def outfit_rows(attire: str | None = None) -> list[dict[str, str]]:
    """The shipped outfits (``catalogue.list_outfits``), of one ``attire`` or all."""
    return catalogue.list_outfits(attire)


def outfit_label(row: dict[str, str]) -> str:
    """"Navy suit, white shirt, tie" for a ``list_outfits`` row."""
    top = "shirt" if row["attire"] == "suit" else "top"
    parts = [f"{row['colour']} {row['attire']}", f"{row['shirt']} {top}"] + (["tie"] if row["tie"] == "tie" else [])
    return ", ".join(parts).capitalize()


def outfit_caption(row: dict[str, str]) -> str:
    """A gallery caption: what the outfit is, its id and its credit."""
    return f"{outfit_label(row)} ({row['id']}) · {row['credit']}"


def outfit_choices() -> list[tuple[str, str]]:
    """The outfit dropdown: the special choices, then every shipped outfit by label."""
    return OUTFIT_CHOICES + [(f"{outfit_label(row)} ({row['id']})", row["id"]) for row in outfit_rows()]


def outfit_choice(value: Any) -> str:
    """A valid ``outfit`` for the pipeline: "auto", "keep", "none", "upload" or a shipped outfit id. Anything else
    (in particular a path, which the library would read as an outfit photo) is refused."""
    text = str(value or OUTFIT_AUTO).strip()
    if text.lower() in SPACE_SPECIAL_OUTFITS:
        return text.lower()
    if text in {row["id"] for row in outfit_rows()}:
        return text
    raise gr.Error(f"Unknown outfit {text[:60]!r}; pick one in the gallery, or choose auto, keep or upload.",
                   title="Invalid option", print_exception=False)


def outfit_thumbnail(outfit) -> np.ndarray:
    """The outfit's preview (``Outfit.preview``) from a little above the wearer's chin, ``THUMBNAIL_WIDTH`` wide."""
    top = int(max(0.0, outfit.anchors["chin"][1] - 0.3 * outfit.face_size))
    image = Image.fromarray(outfit.preview()[top:])
    height = round(image.height * THUMBNAIL_WIDTH / image.width)
    return np.asarray(image.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS))


def gallery_items(attire: str) -> list[tuple[np.ndarray, str]]:
    """(thumbnail, caption) of every shipped outfit of ``attire``, drawn in memory (gradio caches the images)."""
    captions = {row["id"]: outfit_caption(row) for row in outfit_rows(attire)}
    return [(outfit_thumbnail(o), captions[o.id]) for o in catalogue.load_wardrobe() if o.id in captions]


def outfit_sources() -> str:
    """One line for the page's credits: where the wardrobe's outfits come from, under which licences."""
    outfits = catalogue.load_wardrobe()
    sources = sorted({f"{o.source} ({o.licence})" for o in outfits})
    return (f"Outfits: {len(outfits)} cut from {'; '.join(sources)}; each one's credit is in the gallery's captions "
            "and under \"Outfit credits\".")


def outfit_credits() -> str:
    """Markdown: where every outfit comes from (the credits accordion)."""
    lines = [f"Each outfit is cut automatically from an official portrait. {CREDITS_NOTE}", "",
             "| outfit | credit |", "|---|---|"]
    lines += [f"| {outfit_label(row)} (`{row['id']}`) | {row['credit']} |" for row in outfit_rows()]
    return "\n".join(lines)


def picked_outfit(attire: str):
    """The select handler of ``attire``'s gallery: (the clicked outfit's id, ``attire``) for the outfit dropdown and
    the attire radio, so that the two agree."""
    ids = [row["id"] for row in outfit_rows(attire)]

    def pick(event: gr.SelectData) -> tuple[str, str]:
        if isinstance(event.index, int) and 0 <= event.index < len(ids):
            return ids[event.index], attire
        return OUTFIT_AUTO, attire

    return pick


def outfit_for_attire(attire: str, outfit: str) -> str:
    """The attire radio changed: the outfit stays, unless it is a gallery outfit of another attire (then "auto")."""
    row = next((r for r in outfit_rows() if r["id"] == outfit), None)
    return OUTFIT_AUTO if row is not None and attire != "auto" and row["attire"] != attire else outfit


def describe_outfit(result, requested_outfit: str) -> str:
    """The result's outfit line: which outfit was used and where it comes from."""
    used = getattr(result, "outfit", None)
    if requested_outfit == OUTFIT_UPLOAD:
        return "Outfit: cut from your outfit photo."
    if used in (None, OUTFIT_NONE):
        return "Outfit: drawn by the model (no outfit fitted)."
    if used == OUTFIT_KEEP:
        return "Outfit: your own clothes (new frame and background only)."
    row = next((r for r in outfit_rows() if r["id"] == used), None)
    if row is None:
        return f"Outfit: {used}."
    how = "your choice" if requested_outfit == used else "the default for the attire"
    return f"Outfit: **{outfit_label(row)}** (`{used}`, {how}) · {row['credit']}."


def outfit_picker(attire_radio: gr.Radio) -> tuple[gr.Dropdown, gr.Image]:
    """The outfit dropdown, a gallery per attire whose clicks set it (and the attire), and the (hidden until chosen)
    upload of the visitor's own outfit photo."""
    outfit = gr.Dropdown(outfit_choices(), value=OUTFIT_AUTO, label="Outfit", elem_id="outfit",
                         info="Click an outfit in the gallery, or choose Auto, your own clothes or your own photo.")
    with gr.Tabs(elem_id="outfit-gallery"):
        for attire in sorted(ATTIRES, key=lambda name: name != "suit"):  # suits first
            with gr.Tab(f"{attire.capitalize()}s ({len(outfit_rows(attire))})", elem_id=f"tab-{attire}"):
                gallery = gr.Gallery(gallery_items(attire), columns=4, height=300, allow_preview=False,
                                     show_label=False, object_fit="contain", elem_id=f"gallery-{attire}")
                gallery.select(picked_outfit(attire), None, [outfit, attire_radio], queue=False,
                               api_visibility="private")
    attire_radio.change(outfit_for_attire, [attire_radio, outfit], outfit, queue=False, api_visibility="private")
    with gr.Column(visible=False, elem_id="outfit-upload") as upload_box:
        outfit_photo = gr.Image(label="Your own outfit photo: someone in business clothes, head and both shoulders",
                                sources=["upload", "clipboard"], type="filepath", height=240, elem_id="outfit-photo")
    outfit.change(lambda value: gr.Column(visible=value == OUTFIT_UPLOAD), outfit, upload_box, queue=False,
                  api_visibility="private")
    return outfit, outfit_photo
