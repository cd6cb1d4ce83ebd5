"""Writing samples to a folder: `sample_001.txt`… from 1, the output plugins' results, and samples.json.

A set is written whole or not at all: into a private staging folder first, which then becomes the
folder (a new one) or whose files are moved into it (one that exists), samples.json last; a failure
or an interrupt (KeyboardInterrupt included) removes the staging folder, and Ctrl-C while the files are moved into
place waits until they are, so a folder never holds samples without their samples.json.

A folder may be written into again. What an earlier run of this code wrote there is replaced, and
nothing else: samples.json records every file written with its SHA-256, and a file is deleted only
when it is still a plain file with that hash, so a foreign or edited samples.json, or a file the
user changed since, is left alone. Every file is written atomically, replacing a symbolic link in
its place rather than writing through it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from charmony.pipeline.outputs.runner import OutputRunner
from charmony.pipeline.plugin.manager import get_outputs
from charmony.pipeline.run.folder import SAMPLE_STAGING, Run
from charmony.pipeline.run.samples_file import REPORT, SampleSet, created_now, read_sample_set
from charmony.pipeline.sampling.sample import Sample
from charmony.pipeline.system.atomic import atomic_path, current_umask
from charmony.pipeline.system.errors import RunError
from charmony.pipeline.system.interrupt import interrupts_after
from charmony.pipeline.system.sources import file_sha256


def sample_name(number: int, extension: str) -> str:
    """The file name of sample `number` (from 1)."""
    return f"sample_{number:03d}{extension}"


def write_samples(samples: list[Sample], metadata: dict, out_dir: Path, extension: str, render: list[str],
                  profile: dict | None = None) -> dict:
    """Write sample N to `out_dir/sample_NNN<ext>` (from 1), run the output plugins, and write samples.json, all or nothing.

    The checkers judge the samples as samples of a run with `profile` (see `OutputPlugin.for_run`).
    """
    existing = out_dir.is_dir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=SAMPLE_STAGING, dir=out_dir if existing else out_dir.parent))
    try:
        try:
            report = _write_set(samples, metadata, staging, extension, render, profile)
        except OSError as error:
            raise RunError(f"cannot write the samples into {out_dir} ({error.strerror or error}); is the disk full? "
                           "Nothing of this set was kept") from None
        with interrupts_after():  # Ctrl-C while files are moved would leave half a set: it waits until they are in place
            if existing:
                _remove_earlier_samples(out_dir)
                for name in [*report["written"], REPORT]:  # samples.json last: it is what makes the set complete
                    os.replace(staging / name, out_dir / name)
            else:
                staging.chmod(0o777 & ~current_umask())  # as a folder the user made; mkdtemp's is private
                os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_set(samples: list[Sample], metadata: dict, folder: Path, extension: str, render: list[str],
               profile: dict | None) -> dict:
    """Write the samples, the output plugins' files and samples.json into `folder`; the report."""
    runner = OutputRunner([plugin.for_run(profile) for plugin in get_outputs(render)])
    entries, written = [], {}
    with runner:
        for number, item in enumerate(samples, start=1):
            path = folder / sample_name(number, extension)
            with atomic_path(path) as temporary:
                temporary.write_text(item.text, encoding="utf-8")
            outputs = runner.run(path, folder)
            for name in [path.name, *(f for result in outputs.results.values() for f in result.get("files", []))]:
                if Path(name).name == name and (folder / name).is_file():
                    written[name] = file_sha256(folder / name)
            entry = {"number": number, "file": path.name, "characters": len(item.text), "finished": item.finished}
            if item.raw is not None and item.raw != item.text:
                entry["raw"] = item.raw
            entries.append({**entry, "outputs": outputs.results})
    report = dict(metadata, created=created_now(), samples=entries, summary=runner.summary(), written=written)
    SampleSet(folder, report).write()
    return report


def _remove_earlier_samples(out_dir: Path) -> None:
    """Delete the files an earlier `write_samples` wrote into this folder, as its samples.json records them."""
    try:
        earlier = read_sample_set(out_dir, "")
    except RunError:
        return
    written = earlier.report.get("written") if earlier is not None else None
    if not isinstance(written, dict):
        return
    names = [(name, digest) for name, digest in written.items() if isinstance(name, str) and isinstance(digest, str)]
    for name, digest in names:
        if Path(name).name != name or name in (".", ".."):
            continue
        path = out_dir / name
        try:
            if stat.S_ISREG(path.lstat().st_mode) and file_sha256(path) == digest:
                path.unlink()
        except OSError:
            continue


def new_samples_dir(run: Run, step: int, seed: int) -> Path:
    """A folder under the run for samples printed without --out, never one already used."""
    base = run.samples_dir / f"step{step:06d}-seed{seed}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path
