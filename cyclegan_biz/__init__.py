"""cyclegan-biz: selfie to business headshot."""
__version__ = "0.1.0"
