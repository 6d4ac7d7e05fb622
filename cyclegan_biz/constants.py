"""Values shared by training and inference (no heavy imports here: the pipeline and the Space import this)."""

# Outside the photo, aligned crops are this flat grey: neutral for the generator, and ``valid_mask`` marks it. The
# dataset builder pads with it, so inference must too.
PAD_VALUE = 127
