"""The selfie -> headshot pipeline (see ``selfie_to_business``)."""

from .selfie_to_business import *  # noqa: F403 - temporary, split in the next commit
from .selfie_to_business import __all__  # noqa: F401
