"""charmony: character-level recurrent models for text and music."""

__version__ = "0.1.0"
