"""Values shared by training and inference (no heavy imports here: the pipeline, the Space and the CLI's parser
import this; ``cyclegan-biz --help`` imports nothing else of the package's heavy parts)."""

# The pipeline's options: engines, output sizes (pixels, the width), aspects.
ENGINES = ("auto", "torch", "onnx")
MIN_SIZE, MAX_SIZE = 64, 4096
ASPECTS = ("1:1", "4:5")

# Outside the photo, aligned crops are this flat grey: neutral for the generator, and ``valid_mask`` marks it. The
# dataset builder pads with it, so inference must too.
PAD_VALUE = 127
