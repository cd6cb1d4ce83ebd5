"""Running output plugins over files: checks, renders and their summary, for `check`, `render` and `sample`."""
