"""abc2midi as a second opinion on the tunes the constraint writes (see ABC-NOTES: what counts as a complaint)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ABC2MIDI = shutil.which("abc2midi")
BAR_TIME = re.compile(r"Bar \d+ has \S+ time units")


def abc2midi_complaints(text: str) -> list[str]:
    """abc2midi's `Error` lines, and its `Bar N has X time units` warnings but those about a bar in a repeat."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "tune.abc"
        source.write_text(text, encoding="utf-8")
        result = subprocess.run([ABC2MIDI, str(source), "-o", str(Path(folder) / "tune.mid"), "-NFER"],
                                capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if "Error" in line or (BAR_TIME.search(line) and not line.rstrip().endswith("in repeat"))]


def assert_abc2midi_accepts(texts: list[str]) -> None:
    """Every tune plays in abc2midi without an error or a bar of the wrong length; skipped where it is not installed."""
    if ABC2MIDI is None:
        pytest.skip("abc2midi is not installed (Debian package abcmidi): the second opinion on samples is left out")
    complaints = {index: found for index, text in enumerate(texts) if (found := abc2midi_complaints(text))}
    assert complaints == {}, "abc2midi complains: " + "; ".join(
        f"tune {index}: {found[:2]} in {texts[index]!r}" for index, found in list(complaints.items())[:3])
