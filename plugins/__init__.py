"""Built-in output plugins, one module each, registered like any third-party plugin."""
