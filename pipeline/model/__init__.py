"""The shared character model and its cells."""
