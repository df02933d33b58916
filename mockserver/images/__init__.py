"""Deterministic synthetic images: what an image is asked to be (its spec), drawing and encoding it, the
processes that do so, the pixel tables of the models, and the images clients send."""
