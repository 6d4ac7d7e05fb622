"""Vision models used around the face: body pose."""
