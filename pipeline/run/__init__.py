"""The run folder and the files in it: manifest, vocabulary, settings, checkpoints, lock and samples.json."""
