"""ABC notation: charmony's own reader, checker and writer, shared by the corpora and the output plugins."""
