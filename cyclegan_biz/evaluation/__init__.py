"""Evaluation of selfie -> business headshot translation; every measurement works on arrays, PIL images or files, so
it applies to any two folders and any model.

=================  ==========================================================================================
``features``       1280-D pooled ImageNet EfficientNet-Lite0 features (whole image or its lower half), cached
``distances``      KID / FID on those features (torchmetrics); named ``*_effnet_lite0``: not Inception numbers
``identity``       dlib's face embedding distance (same person below 0.6)
``appearance``     face preservation (pixels inside the re-aligned face) and background uniformity
``probes``         logistic-regression probes (scikit-learn): business-looking? suit or blazer?
``folders``        ``evaluate_folders``: all of the above on a folder of outputs (and inputs)
``report``         ``write_outputs``: metrics.json, report.md and the contact sheet
``clothes_probe``  business vs casual clothes, below the chin only (shipped probe in ``data/``)
``seams``          chin-to-collar seam statistics (no learning), thresholds from real portraits
``sharpness``      high-frequency energy of the clothes relative to the face
``recomposite``    a real portrait's own outfit fitted back under its altered head: Lab error in the band
``outfit_metrics`` the outfit measurements per folder, their summary, the fixed KID reference
``references``     the stored references (``data/``: clothes probe, real-portrait ranges)
=================  ==========================================================================================

New measurements go in a new module here, added to ``folders.pair_metrics`` / ``folders.summarize`` and to
``report.REPORT_ROWS``.
"""

from .appearance import background_std, face_preservation_error
from .distances import fid, kid
from .features import FeatureExtractor, embed_files
from .folders import evaluate_folders
from .identity import SAME_PERSON_THRESHOLD, identity, identity_distance
from .probes import LinearProbe
from .report import write_outputs

__all__ = [
    "SAME_PERSON_THRESHOLD",
    "FeatureExtractor",
    "LinearProbe",
    "background_std",
    "embed_files",
    "evaluate_folders",
    "face_preservation_error",
    "fid",
    "identity",
    "identity_distance",
    "kid",
    "write_outputs",
]
