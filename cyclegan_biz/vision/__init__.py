"""What the pipeline sees: face landmarks (``landmarks``, ``face_alignment_backend``), person segmentation
(``segmentation``), body pose (``pose``) and the frames (``geometry``: alignment, framing, warps)."""
