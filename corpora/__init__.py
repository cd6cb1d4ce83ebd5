"""Built-in corpus plugins, one module each, registered like any third-party plugin."""
