"""The built-in synthesizer and its MIDI reader: pitches found by FFT, lengths and tempo; the audio plugin's fallback."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest

from charmony.pipeline.audio import synth
from charmony.pipeline.abc import render
from charmony.pipeline.audio.midi_notes import MidiError, Note, read_notes
from charmony.pipeline.plugin.manager import get_outputs
from charmony.pipeline.audio.mastering import PEAK_DBFS
from charmony.pipeline.audio import ogg
from charmony.pipeline.audio.ogg import read_audio
from charmony.plugins import audio

# A4 B4 C5 D5 over A2 B2 C3 D3, a second each (Q:1/4=60), then E5 over E3 for four seconds.
TWO_VOICES = """X:1
T:Two voices
M:4/4
L:1/4
Q:1/4=60
V:1
V:2 clef=bass
K:C
V:1
A B c d|e4|]
V:2
A,, B,, C, D,|E,4|]
"""
needs_libsndfile = pytest.mark.skipif(not ogg.available(), reason="libsndfile (Debian libsndfile1) is not installed: audio is WAV")
needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None or render.soundfont() is None,
                                      reason="FluidSynth and a General MIDI SoundFont (Debian fluidsynth, fluid-soundfont-gm) are not installed")


def fundamentals(samples: np.ndarray, rate: int, start: float, end: float, count: int) -> list[float]:
    """The `count` frequencies with the strongest spectral peaks between two times, lowest first, to 0.25 Hz."""
    segment = samples[int(start * rate):int(end * rate)]
    size = rate * 4  # zero-padded to 4 s: bins of 0.25 Hz
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=size))
    frequencies = np.fft.rfftfreq(size, 1 / rate)
    peaks = [i for i in range(1, len(spectrum) - 1) if spectrum[i - 1] < spectrum[i] >= spectrum[i + 1]]
    strongest = sorted(peaks, key=lambda i: spectrum[i], reverse=True)[:count]
    return sorted(float(frequencies[i]) for i in strongest)


@pytest.fixture
def no_fluidsynth(monkeypatch, tmp_path):
    """A machine without a General MIDI SoundFont, where FluidSynth cannot play."""
    monkeypatch.setattr(render, "SOUNDFONTS", (tmp_path / "missing.sf2",))


def test_the_midi_reader_follows_tempo_changes_running_status_and_zero_velocity_note_offs(tmp_path):
    def track(events: bytes) -> bytes:
        return b"MTrk" + struct.pack(">I", len(events)) + events

    # 480 ticks a quarter. Track 1: tempo 120, then 60 after one quarter. Track 2 plays C4 a quarter from 0,
    # and, in running status, E4 (ended by a velocity-0 note on) a quarter from tick 480.
    tempo = track(b"\x00\xff\x51\x03\x07\xa1\x20" + b"\x83\x60\xff\x51\x03\x0f\x42\x40" + b"\x00\xff\x2f\x00")
    notes = track(b"\x00\x90\x3c\x64" + b"\x83\x60\x80\x3c\x00" + b"\x00\x90\x40\x50" + b"\x83\x60\x40\x00" + b"\x00\xff\x2f\x00")
    path = tmp_path / "tempo.mid"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 1, 2, 480) + tempo + notes)
    assert read_notes(path) == [Note(0.0, 0.5, 60, 100), Note(0.5, 1.0, 64, 80)]


def test_a_file_that_is_not_midi_is_a_midi_error(tmp_path):
    path = tmp_path / "not.mid"
    path.write_bytes(b"RIFF....")
    with pytest.raises(MidiError, match="not a MIDI file"):
        read_notes(path)
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk\x00\x00\x00\x08\x00\x90\x3c")
    with pytest.raises(MidiError, match="damaged"):
        read_notes(path)


@needs_libsndfile
def test_the_synthesizer_plays_the_right_pitches_for_the_right_time(tmp_path, no_fluidsynth):
    source = tmp_path / "two.abc"
    source.write_text(TWO_VOICES)
    result = get_outputs(["audio"])[0].render(source, tmp_path)
    assert result.files == [tmp_path / "two.ogg"] and result.details == {"synthesizer": synth.NAME}
    samples, rate = read_audio(tmp_path / "two.ogg")
    assert rate == synth.RATE and samples.shape[1] == 1
    assert len(samples) / rate == pytest.approx(8 + synth.RELEASE, abs=2 / rate)  # 4 quarters + 4 quarters at 60
    melody = [440.0, 493.88, 523.25, 587.33, 659.26]
    bass = [110.0, 123.47, 130.81, 146.83, 164.81]
    for second, (high, low) in enumerate(zip(melody, bass)):
        found = fundamentals(samples[:, 0], rate, second + 0.1, second + 0.9, 2)
        assert found == [pytest.approx(low, abs=0.5), pytest.approx(high, abs=0.5)], (second, found)
    # Each note sounds only in its own second: A4 is gone once B4 starts.
    spectrum_later = fundamentals(samples[:, 0], rate, 1.1, 1.9, 6)
    assert all(abs(f - 440.0) > 2 for f in spectrum_later)
    assert 20 * np.log10(np.abs(samples).max()) == pytest.approx(PEAK_DBFS, abs=0.5)


def test_a_note_lasts_as_long_as_the_tempo_says(tmp_path):
    notes = [Note(0.0, 0.25, 69, 100), Note(0.75, 0.5, 81, 127)]
    samples = synth.synthesize(notes, rate=8000)
    loud = np.abs(samples) > 0.01
    sounding = np.flatnonzero(np.convolve(loud, np.ones(40), "same") > 0)  # ignore the zero crossings of the wave
    assert sounding[0] < 20 and abs(sounding[-1] / 8000 - (1.25 + synth.RELEASE)) < 0.01
    silent_gap = samples[int(0.32 * 8000):int(0.74 * 8000)]
    assert np.abs(silent_gap).max() < 1e-6


@needs_libsndfile
def test_sampled_tunes_record_which_synthesizer_played_them(tmp_path, no_fluidsynth, invoke):
    from charmony.pipeline.sampling.sample import Sample
    from charmony.pipeline.sampling.folder import write_samples

    report = write_samples([Sample(TWO_VOICES, True)], {"run": "test"}, tmp_path, ".abc", ["abc", "audio"])
    assert report["samples"][0]["outputs"]["audio"] == {"files": ["sample_001.ogg"], "details": {"synthesizer": synth.NAME}}
    assert json.loads((tmp_path / "samples.json").read_text())["samples"][0]["outputs"]["audio"]["details"]["synthesizer"] == synth.NAME
    result = invoke("render", tmp_path / "sample_001.abc", "--to", "audio", "--out", tmp_path / "again")
    assert result.exit_code == 0 and f"audio: synthesizer: {synth.NAME}" in result.output


@needs_fluidsynth
def test_fluidsynth_recordings_end_with_the_music(tmp_path):
    source = tmp_path / "two.abc"
    source.write_text(TWO_VOICES)
    result = get_outputs(["audio"])[0].render(source, tmp_path)
    assert result.details == {"synthesizer": f"FluidSynth with {render.soundfont().name}"}
    samples, rate = read_audio(result.files[0])
    assert rate == render.FLUIDSYNTH_RATE and samples.shape[1] == 1 and len(samples) / rate == pytest.approx(8 + audio.FLUIDSYNTH_TAIL, abs=0.05)
    found = fundamentals(samples.mean(axis=1), rate, 0.2, 0.9, 12)
    assert any(abs(f - 440.0) < 3 for f in found) and any(abs(f - 110.0) < 2 for f in found)


@needs_libsndfile
def test_rendered_files_follow_the_users_umask(tmp_path, no_fluidsynth):
    import os
    import stat

    from charmony.pipeline.abc.worker import worker

    source = tmp_path / "two.abc"
    source.write_text(TWO_VOICES)
    previous = os.umask(0o027)
    worker().stop()  # the worker takes the umask of the moment it starts
    try:
        written = [path for name in ("midi", "score", "audio") for path in get_outputs([name])[0].render(source, tmp_path).files]
    finally:
        os.umask(previous)
        worker().stop()
    assert sorted(path.suffix for path in written) == [".mid", ".musicxml", ".ogg", ".svg"]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in written} == {path.name: "0o640" for path in written}
