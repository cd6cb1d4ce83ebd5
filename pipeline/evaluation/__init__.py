"""The `evaluate` stage: samples against a run's held-out and training documents."""
