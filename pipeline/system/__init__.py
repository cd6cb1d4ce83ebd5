"""Plumbing every stage uses: atomic writes, errors, the device, threads and signals."""
