"""The `sample` stage: drawing samples in batches, free or under a constraint, and writing them to a folder."""
