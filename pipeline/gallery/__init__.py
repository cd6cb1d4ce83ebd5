"""The HTML gallery of a run's samples: a static folder with an index.html that works offline from file://."""
