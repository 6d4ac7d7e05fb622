"""The web app's error messages: what a visitor is shown for an exception (a friendly toast, never a traceback)."""

from __future__ import annotations

import logging
import re

import gradio as gr

from cyclegan_biz.errors import (
    CycleBizError,
    FaceTooSmallError,
    ImageTooLargeError,
    InvalidOptionError,
    MissingWeightsError,
    NoFaceError,
    NoOutfitError,
    UnreadableImageError,
)
from cyclegan_biz.wardrobe import catalogue

log = logging.getLogger("cyclegan_biz.space")

ERROR_TITLES = {  # most specific first
    NoFaceError: "No face found",
    FaceTooSmallError: "Face too small",
    ImageTooLargeError: "Photo too large",
    UnreadableImageError: "Can't read this file",
    MissingWeightsError: "Model not available",
    catalogue.UnknownOutfitError: "Unknown outfit",
    NoOutfitError: "No outfit in that photo",
    InvalidOptionError: "Invalid option",
}
GENERIC_ERROR = ("Something went wrong while making your headshot. Please try again, or try another photo "
                 "(one face looking at the camera, in good light).")


# --- errors ---------------------------------------------------------------------------------------------------------
def error_title(err: BaseException) -> str:
    for cls, title in ERROR_TITLES.items():
        if isinstance(err, cls):
            return title
    return "Couldn't make a headshot"


def error_message(err: BaseException) -> str:
    """What the page shows for ``err``: a ``CycleBizError``'s own advice (without the "<bytes>:" source prefix the
    library puts on errors of in-memory photos), anything else a generic line (details go to the server log only)."""
    if not isinstance(err, CycleBizError):
        return GENERIC_ERROR
    text = " ".join(str(err).split())
    text = re.sub(r"^<bytes>:\s*", "", text)
    if not text:
        return GENERIC_ERROR
    return text[0].upper() + text[1:]


def friendly_error(err: BaseException) -> gr.Error:
    """The ``gr.Error`` (a toast on the page, never a traceback) for an exception from the pipeline."""
    if isinstance(err, gr.Error):
        return err
    if not isinstance(err, CycleBizError):
        log.error("unexpected error while making a headshot", exc_info=err)
    return gr.Error(error_message(err), title=error_title(err), duration=None, print_exception=False)
