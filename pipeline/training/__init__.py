"""The `train` stage: the loop, its schedule, resuming, logging and several processes."""
