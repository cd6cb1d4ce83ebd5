"""The `prepare` stage: source files read, documents split, a vocabulary built and tokens encoded and batched."""
