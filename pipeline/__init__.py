"""The shared engine: data preparation, the model, training, sampling and the plugin system."""
