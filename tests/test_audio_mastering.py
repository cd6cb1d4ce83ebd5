"""Recordings finished for listening: peak at -1 dBFS, Ogg Vorbis ten times smaller than CD audio, runaway tunes cut
at three minutes with a fade, by both synthesizers; and the gallery's player pointing at the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from charmony.pipeline.abc import render
from charmony.pipeline.audio import mastering, ogg, synth
from charmony.pipeline.audio.wav import read_wav
from charmony.pipeline.plugin.cards import CardSample
from charmony.pipeline.plugin.manager import get_outputs
from charmony.plugins.audio import AudioRenderer

REEL = """X:1
T:Reel
M:4/4
L:1/8
Q:1/4=120
K:D
|:d2fd c2ec|d2fd cAGE|FAdf g2fe|dBAF G2FE:|
|:DFAd fdAF|GBdg bgdB|Aceg fdec|d2f2 d4:|
"""
# 120 bars of the same eight eighth notes, a bar every 2 s: four minutes, a minute past the cap.
RUNAWAY = "X:1\nT:Runaway\nM:4/4\nL:1/8\nQ:1/4=120\nK:C\n" + "CDEF GABc|" * 120 + "]\n"
CD_BYTES_PER_SECOND = 44100 * 2 * 2  # 16-bit stereo WAV at 44.1 kHz, what the audio plugin wrote before
needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None or render.soundfont() is None,
                                      reason="FluidSynth and a General MIDI SoundFont (Debian fluidsynth, fluid-soundfont-gm) are not installed")
needs_libsndfile = pytest.mark.skipif(not ogg.available(), reason="libsndfile (Debian libsndfile1) is not installed")
PLAYERS = [pytest.param("fluidsynth", marks=needs_fluidsynth), "built-in"]


@pytest.fixture
def play(tmp_path, monkeypatch):
    """Render ABC text as audio with the given synthesizer; the file and its samples."""
    def played(text: str, player: str) -> tuple[Path, np.ndarray, int]:
        if player == "built-in":
            monkeypatch.setattr(render, "SOUNDFONTS", (tmp_path / "missing.sf2",))
        source = tmp_path / "tune.abc"
        source.write_text(text)
        result = get_outputs(["audio"])[0].render(source, tmp_path / player)
        assert not result.skipped, result.skipped
        [path] = result.files
        samples, rate = ogg.read_audio(path)
        return path, samples, rate

    return played


def dbfs(level: float) -> float:
    return 20 * float(np.log10(level))


@needs_libsndfile
@pytest.mark.parametrize("player", PLAYERS)
def test_every_recording_peaks_at_minus_one_dbfs_in_a_file_ten_times_smaller_than_cd_audio(play, player):
    path, samples, rate = play(REEL, player)
    assert path.suffix == ".ogg" and path.read_bytes()[:4] == b"OggS"
    assert samples.shape[1] == 1  # mono
    assert dbfs(np.abs(samples).max()) == pytest.approx(mastering.PEAK_DBFS, abs=0.5)
    seconds = len(samples) / rate
    assert seconds == pytest.approx(16 * 2 + (0.3 if player == "fluidsynth" else synth.RELEASE), abs=0.05)  # 16 bars of 2 s
    assert path.stat().st_size / seconds <= CD_BYTES_PER_SECOND / 10, f"{path.stat().st_size / seconds:.0f} bytes a second"


@needs_libsndfile
@pytest.mark.parametrize("player", PLAYERS)
def test_a_runaway_tune_is_cut_at_three_minutes_with_a_fade(play, player):
    _, samples, rate = play(RUNAWAY, player)
    mono = samples[:, 0]
    assert len(mono) / rate == pytest.approx(mastering.LONGEST_SECONDS, abs=1 / rate)

    def rms(start: float, end: float) -> float:
        return float(np.sqrt(np.mean(mono[int(start * rate):int(end * rate)] ** 2)))

    # A bar starts every 2 s: compare the same moment of two bars, before and late in the 5 s fade.
    before_fade, fading, last = rms(170, 170.5), rms(178, 178.5), rms(179.8, 180)
    assert before_fade > 0.05 and fading < before_fade / 2 and last < before_fade / 10
    assert dbfs(np.abs(mono).max()) == pytest.approx(mastering.PEAK_DBFS, abs=0.5)


def test_normalise_puts_the_peak_at_minus_one_dbfs_and_leaves_silence_alone():
    samples = np.array([0.0, 0.01, -0.02, 0.005], dtype=np.float32)
    louder = mastering.normalise(samples)
    assert dbfs(np.abs(louder).max()) == pytest.approx(-1.0, abs=1e-4) and louder[2] < 0
    assert louder[1] / louder[2] == pytest.approx(-0.5)  # scaled, not reshaped
    assert not mastering.normalise(np.zeros(5, dtype=np.float32)).any()


def test_fade_out_cuts_after_the_time_and_fades_over_the_last_seconds():
    rate = 1000
    samples = np.full((3 * rate, 2), 0.5, dtype=np.float32)
    cut = mastering.fade_out(samples, rate, 1.5, 0.5)
    assert cut.shape == (1500, 2) and samples[-1, 0] == 0.5  # the input is left as it was
    assert cut[999, 0] == pytest.approx(0.5, abs=1e-3) and abs(cut[-1, 0]) < 1e-3
    assert 0.2 < cut[1250, 1] < 0.3  # half way down the fade
    assert mastering.fade_out(samples, rate, 10, 0.5) is samples  # a recording shorter than that is left alone


def test_without_libsndfile_the_recording_is_a_normalised_mono_wav(tmp_path):
    rate = 8000
    stereo = np.stack([np.full(2 * rate, 0.01), np.full(2 * rate, 0.03)], axis=1).astype(np.float32)
    path = mastering.finish_recording(stereo, rate, tmp_path / "tune.wav", music_seconds=1.0, fade=0.25)
    samples, read_rate = read_wav(path)
    assert read_rate == rate and samples.shape == (int(1.25 * rate), 1)
    assert dbfs(np.abs(samples).max()) == pytest.approx(mastering.PEAK_DBFS, abs=0.01)


@needs_libsndfile
def test_a_failed_ogg_write_is_an_error_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(ogg, "_WRITE", 0x7777)  # a mode libsndfile refuses
    with pytest.raises(render.RenderError, match="cannot write tune.ogg"):
        ogg.write_ogg(np.zeros(100, dtype=np.float32), 8000, tmp_path / "tune.ogg")
    assert list(tmp_path.iterdir()) == []


def test_the_audio_card_plays_the_ogg_file_and_says_which_synthesizer_made_it(tmp_path):
    sample = CardSample(text=REEL, file="sample_001.abc", result={"files": ["sample_001.ogg"], "details": {"synthesizer": "X"}},
                        problems=[], anchor="s1-0", folder=tmp_path, place_file=lambda name: f"files/s1/{name}")
    view, notes = AudioRenderer().card(sample)
    assert '<audio controls preload="none" src="files/s1/sample_001.ogg"' in view.html and notes.html == "played by X"
