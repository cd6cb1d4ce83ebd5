"""Bach's chorales from music21's corpus, written as ABC once and cached as JSON."""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import music21
from music21 import converter, corpus, key, stream, tempo
from tqdm import tqdm

from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.compare import differences
from charmony.pipeline.abc.score import abc_to_score
from charmony.pipeline.abc.tonic import shift_to_c
from charmony.pipeline.abc.writer import WRITER_VERSION, WriterOptions, score_to_abc
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.system.errors import CorpusError

CACHE_ENV = "CHARMONY_CACHE"
CACHE_FORMAT = 1
COMPOSER = "J.S. Bach"


@dataclass(frozen=True, order=True)
class Variant:
    """Which voices, moved by how many semitones, or (`to_c`) each tune by the shift that takes its tonic to C."""

    voices: str = "all"
    transpose: int = 0
    to_c: bool = False  # then `transpose` is 0: the shift is each tune's own (shift_to_c)

    @property
    def file_name(self) -> str:
        """The name of this variant's cache file."""
        return f"{self.voices}-to-C.json" if self.to_c else f"{self.voices}{self.transpose:+d}.json"


ORIGINAL = Variant()


def cache_root() -> Path:
    """$CHARMONY_CACHE, else $XDG_CACHE_HOME/charmony, else ~/.cache/charmony."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "charmony"


def cache_dir() -> Path:
    """Where the chorales converted by this music21 and this writer are kept."""
    return cache_root() / "bach" / f"music21-{music21.__version__}-writer-{WRITER_VERSION}"


def chorale_paths() -> list[Path]:
    """The Bach scores in music21's corpus (MusicXML and Humdrum), by name; analyses left out."""
    paths = [Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in (".mxl", ".xml", ".krn")]
    return sorted(paths, key=lambda p: p.name)


def chorale_name(path: Path) -> str:
    """bwv1.6.mxl -> BWV 1.6"""
    return "BWV " + path.stem.removeprefix("bwv")


def select_voices(score: stream.Score, voices: str) -> stream.Score:
    """The score itself, or a score of its soprano (the part named so, else the top part).

    The soprano takes the tempo and the key of the first part, as the ABC of all voices holds them in its
    header, so that deriving it from that ABC (derive_variant) gives the same tune.
    """
    if voices == "all":
        return score
    parts = list(score.parts)
    chosen = next((p for p in parts if (p.partName or "").strip().lower().startswith("soprano")), parts[0])
    if chosen is not parts[0]:
        chosen = copy.deepcopy(chosen)
        _take_tempo_and_key(parts[0], chosen)
    selected = stream.Score()
    selected.metadata = score.metadata
    selected.insert(0, chosen)
    return selected


def _take_tempo_and_key(first: stream.Part, part: stream.Part) -> None:
    """Give `part` the first part's tempo when it has none, and its key (F major, D minor) for the same signature."""
    start = part.getElementsByClass(stream.Measure).first()
    mark = first.recurse().getElementsByClass(tempo.MetronomeMark).first()
    if mark is not None and start is not None and not part.recurse().getElementsByClass(tempo.MetronomeMark):
        start.insert(0, copy.deepcopy(mark))
    theirs = first.recurse().getElementsByClass(key.KeySignature).first()
    ours = part.recurse().getElementsByClass(key.KeySignature).first()
    if theirs is not None and ours is not None and theirs.sharps == ours.sharps and type(theirs) is not type(ours):
        ours.activeSite.replace(ours, copy.deepcopy(theirs))


def write_variant(score: stream.Score, variant: Variant, title: str, composer: str | None = None) -> str:
    """The ABC of one variant of a score (moved to C: written in its own key, then by the shift that key needs)."""
    selected = select_voices(score, variant.voices)
    text = score_to_abc(selected, WriterOptions(title=title, composer=composer, transpose=variant.transpose))
    if variant.to_c and shift_to_c(text):
        text = score_to_abc(selected, WriterOptions(title=title, composer=composer, transpose=shift_to_c(text)))
    return text


def not_a_chorale(score: stream.Score) -> str | None:
    """Why a score is no four-part chorale (the keyboard prelude BWV 846 is in the corpus too), or None."""
    names = [(p.partName or "").strip().lower() for p in score.parts]
    if any(name.startswith("soprano") for name in names) or (len(names) == 4 and not any(names)):
        return None
    return f"not a chorale (parts: {', '.join(n or 'unnamed' for n in names)})"


def derive_variant(text: str, variant: Variant, title: str, composer: str | None = None) -> str:
    """A voices variant written from the ABC of all voices in the same key (or also moved to C): read by charmony's
    reader, written again.

    This is what direct conversion from music21's score gives (tests/test_bach.py checks every chorale), at a
    fraction of the cost: the score need not be parsed from music21's corpus again.
    """
    return write_variant(abc_to_score(text), Variant(variant.voices), title, composer)


def _picked_to_c(variant: Variant) -> dict | None:
    """A variant moved to C picked tune by tune from the cached variants of its voices in the shift each key needs;
    None unless all those variants are cached."""
    folder = cache_dir()
    original = _load(folder / Variant(variant.voices).file_name)
    if original is None:
        return None
    shifts = [shift_to_c(tune["abc"]) for tune in original["tunes"]]
    moved = {shift: _load(folder / Variant(variant.voices, shift).file_name) for shift in set(shifts)}
    if any(data is None for data in moved.values()):
        return None
    by_source = {shift: {tune["source"]: tune for tune in data["tunes"]} for shift, data in moved.items() if data}
    try:
        tunes = [by_source[shift][tune["source"]] for tune, shift in zip(original["tunes"], shifts)]
    except KeyError:
        return None
    return {"tunes": tunes, "left_out": original["left_out"]}


def convert_chorale(path: str, variants: tuple[Variant, ...], verify: bool = False) -> dict:
    """One chorale's ABC in each variant, or why it is left out; with `verify`, the round trip's differences too.

    A chorale is left out when it is not one, or when its bars do not fit its meter in music21's edition
    (the checker says which), so that the corpus teaches only bars that add up.
    """
    source = Path(path)
    name = chorale_name(source)
    score = converter.parse(source, forceSource=True)  # forceSource: music21 would otherwise cache a pickle
    result: dict = {"name": name, "source": str(source), "abc": {}}
    reason = not_a_chorale(score)
    original = write_variant(score, ORIGINAL, name, COMPOSER)
    if verify:
        result["differences"] = differences(score, abc_to_score(original))
    if reason is None:
        verdict = check_abc(original)
        if not verdict.valid:
            reason = f"its bars do not fit its meter in music21's edition: {verdict.problems[0].message}"
    if reason is not None:
        result["left_out"] = reason
        return result
    for variant in variants:
        result["abc"][variant.file_name] = original if variant == ORIGINAL else write_variant(score, variant, name, COMPOSER)
    return result


def _convert_all(variants: tuple[Variant, ...], verify: bool) -> list[dict]:
    """Every chorale converted, in parallel on the machine's cores, with a progress bar on a terminal."""
    paths = [str(p) for p in chorale_paths()]
    if not paths:
        raise CorpusError("music21's corpus holds no Bach chorales; reinstall music21 (pip install --force-reinstall music21)")
    workers = max(1, min(os.cpu_count() or 1, 8))
    shifts = sorted({v.transpose for v in variants})
    what = " and ".join(sorted({v.voices for v in variants})) + " voices" + (
        f", moved by {', '.join(f'{s:+d}' for s in shifts)} semitones" if shifts != [0] else "") + (
        ", moved to the tonic C" if any(v.to_c for v in variants) else "")
    print(f"bach: writing music21's {len(paths)} Bach chorale scores as ABC ({what}) on {workers} cores, once; "
          f"cached in {cache_dir()}", file=sys.stderr)
    results = []
    with tqdm(total=len(paths), unit="chorale", file=sys.stderr, disable=None) as progress:
        if workers == 1:
            converted = (convert_chorale(path, variants, verify) for path in paths)
            for result in converted:
                results.append(result)
                progress.update()
            return results
        # spawn, not fork: the parent may hold torch's threads, which a forked child would inherit broken.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for result in pool.map(convert_chorale, paths, repeat(variants), repeat(verify), chunksize=4):
                results.append(result)
                progress.update()
    return results


def _load(path: Path) -> dict | None:
    """A cache file's contents ("tunes", "left_out"...), or None when it is missing or damaged (then it is rebuilt)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != CACHE_FORMAT or not isinstance(data["left_out"], list) or not all(
            isinstance(t["abc"], str) and isinstance(t["name"], str) for t in data["tunes"]
        ):
            raise ValueError
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        print(f"bach: cache file {path} is damaged; rebuilding it", file=sys.stderr)
        return None
    return data


def _save(variant: Variant, tunes: list[dict], left_out: list[dict]) -> None:
    write_json(cache_dir() / variant.file_name, {
        "format": CACHE_FORMAT, "music21": music21.__version__, "writer": WRITER_VERSION,
        "voices": variant.voices, "transpose": "to C" if variant.to_c else variant.transpose, "tunes": tunes,
        "left_out": left_out,
    })


def chorale_tunes(variants: tuple[Variant, ...], verify: bool = False) -> tuple[dict[Variant, list[dict]], list[dict]]:
    """Each variant's tunes ({"name", "source", "abc"}), from the cache or converted now (and cached).

    A variant of some voices is derived from the cached variant of all voices in the same key when there is
    one (see derive_variant). With `verify`, every chorale is converted afresh and read back; the second result
    holds, per chorale, its name, source and the differences found (and why it is left out, if it is).
    """
    folder = cache_dir()
    found = {} if verify else {v: _load(folder / v.file_name) for v in variants}
    missing = [v for v in variants if found.get(v) is None]
    for variant in [v for v in missing if v.to_c and not verify]:
        picked = _picked_to_c(variant)
        if picked is not None:
            _save(variant, picked["tunes"], picked["left_out"])
            found[variant] = picked
            missing.remove(variant)
    for variant in [v for v in missing if v.voices != "all"]:
        same_keys = dataclasses.replace(variant, voices="all")
        whole = found.get(same_keys) or _load(folder / same_keys.file_name)
        if whole is not None and not verify:
            print(f"bach: writing the {variant.voices} voices {variant.file_name.removesuffix('.json')} from the "
                  f"cached chorales of all voices", file=sys.stderr)
            tunes = [{**tune, "abc": derive_variant(tune["abc"], variant, tune["name"], COMPOSER)} for tune in whole["tunes"]]
            _save(variant, tunes, whole["left_out"])
            found[variant] = {"tunes": tunes, "left_out": whole["left_out"]}
            missing.remove(variant)
    checked: list[dict] = []
    if missing:
        results = _convert_all(tuple(missing), verify)
        for variant in missing:
            tunes = [{"name": r["name"], "source": r["source"], "abc": r["abc"][variant.file_name]} for r in results if "left_out" not in r]
            left_out = [{"name": r["name"], "reason": r["left_out"]} for r in results if "left_out" in r]
            _save(variant, tunes, left_out)
            found[variant] = {"tunes": tunes, "left_out": left_out}
        checked = [{k: r[k] for k in ("name", "source", "differences", "left_out") if k in r} for r in results]
    return {v: found[v]["tunes"] for v in variants}, checked
