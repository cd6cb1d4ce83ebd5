"""Sound: reading MIDI notes, the built-in synthesizer and WAV files."""
