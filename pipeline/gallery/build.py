"""Building a gallery: a self-contained folder with index.html, its stylesheet and script, and the files it shows.

The folder is built beside its destination and moved into place whole, so a failed build leaves an
earlier gallery as it was. Files are copied (as reflinks, sharing their data until changed, where the file
system offers them), never hard-linked: the folder keeps working when copied elsewhere or when the run's
sample folders are gone, and changing a sample never changes a gallery.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from tqdm import tqdm

from charmony import __version__
from charmony.pipeline.system.atomic import current_umask
from charmony.pipeline.run.config import GalleryConfig
from charmony.pipeline.system.errors import CharmonyError, ConfigError, RunError
from charmony.pipeline.system.sources import open_regular
from charmony.pipeline.training.log import read_metrics
from charmony.pipeline.gallery.page import RunSummary, card_html, page_html, run_header, set_section
from charmony.pipeline.gallery.render import GalleryRendered, MissingRenders
from charmony.pipeline.run.manifest import run_checks
from charmony.pipeline.run.samples_file import REPORT, SampleSet, read_sample_set, run_sample_sets
from charmony.pipeline.plugin.manager import get_outputs, outputs
from charmony.pipeline.run.folder import Run

RENDERED = "rendered"  # beside files/: what the gallery rendered itself, one subfolder per sample set
MARKER = "gallery.json"  # what tells a gallery folder, which may be replaced, from any other folder
PYGMENTS_STYLE = "default"
# Linux's ioctl that makes one file a reflink of another (Btrfs, XFS, bcachefs); Python names it only from 3.12.
FICLONE = getattr(fcntl, "FICLONE", 0x40049409) if fcntl is not None and sys.platform.startswith("linux") else None


@dataclass(frozen=True)
class Gallery:
    """A gallery that was written."""

    index: Path
    sets: int
    samples: int

    def lines(self) -> list[str]:
        """What `charmony gallery` says: how many samples were written where, and the address to open."""
        sets = f"{self.sets} sample folders" if self.sets != 1 else "1 sample folder"
        return [f"gallery of {self.samples} samples from {sets} written to {self.index}",
                f"open it in a browser: {self.index.resolve().as_uri()}"]


class GalleryFiles:
    """The files a gallery shows, placed under its files/ folder (copied) and rendered/ (rendered by the gallery), one subfolder per sample set."""

    def __init__(self, root: Path):
        self.root = root
        self.folders: dict[Path, str] = {}
        self.placed: dict[tuple[str, str], str | None] = {}

    def add_set(self, folder: Path) -> str:
        """The subfolder name for a sample folder: its own name, made safe and unique."""
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.name).strip("._") or "samples"
        name, number = base, 1
        while name in self.folders.values():
            number += 1
            name = f"{base}-{number}"
        self.folders[folder] = name
        return name

    def place(self, folder: Path, name: str) -> str | None:
        """Put file `name` of a sample folder into the gallery once; its address relative to index.html, or None when missing."""
        subfolder = self.folders[folder]
        key = (subfolder, name)
        if key not in self.placed:
            self.placed[key] = self._copy(folder / name, subfolder, name) if Path(name).name == name else None
        return self.placed[key]

    def rendered_folder(self, folder: Path) -> Path:
        """The folder for what the gallery renders itself of a sample folder's samples, apart from the files it copies."""
        return self.root / RENDERED / self.folders[folder]

    def rendered_link(self, folder: Path, name: str) -> str | None:
        """The address, relative to index.html, of file `name` the gallery rendered for a sample folder; None when missing."""
        if Path(name).name != name or not (self.rendered_folder(folder) / name).is_file():
            return None
        return f"{RENDERED}/{quote(self.folders[folder])}/{quote(name)}"

    def _copy(self, source: Path, subfolder: str, name: str) -> str | None:
        if not os.path.lexists(source):
            return None
        target = self.root / "files" / subfolder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_regular(source, follow_links=False) as handle, target.open("wb") as copy:  # a symbolic link is refused
            if not _reflink(handle, copy):
                _copy_bytes(handle, copy)
        return f"files/{quote(subfolder)}/{quote(name)}"


def _copy_bytes(source, target) -> None:
    """Copy open file `source` into the empty open file `target`, its space taken first, so that a full disk
    fails the build before the gallery is moved into place, rather than by an fsync of each file (most of the
    build of 1,000 tunes' files)."""
    try:
        os.posix_fallocate(target.fileno(), 0, os.fstat(source.fileno()).st_size)
        reserved = True
    except (AttributeError, OSError) as error:  # not Linux, or a file system without it; a full disk is ENOSPC
        if getattr(error, "errno", None) == errno.ENOSPC:
            raise
        reserved = False
    shutil.copyfileobj(source, target)
    target.truncate()  # a source that shrank since its size was read
    if not reserved:
        _sync(target)


def _reflink(source, target) -> bool:
    """Make the empty open file `target` a reflink of open file `source` where the file system can; False where it cannot."""
    if FICLONE is None:
        return False
    try:
        fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
    except OSError:  # another file system, or one without reflinks
        return False
    return True


def summarise_run(run: Run) -> RunSummary:
    """The run's manifest, model and metrics, as the header shows them."""
    from charmony.pipeline.training.checkpoint import Checkpoint

    manifest = run.manifest()
    model, parameters, note = None, None, None
    path = run.checkpoint_for("best")
    if path.exists():
        try:
            checkpoint = Checkpoint.load(path)
            model = checkpoint.model_config
            parameters = sum(tensor.numel() for tensor in checkpoint.model.values())
        except CharmonyError as error:
            note = f"unknown: {error}"
    return RunSummary(run.name, manifest, model, parameters, note, read_metrics(run.metrics_path))


def stylesheet() -> str:
    """gallery.css, followed by Pygments' colours for highlighted code."""
    from pygments.formatters import HtmlFormatter

    own = resources.files("charmony.pipeline.gallery").joinpath("gallery.css").read_text(encoding="utf-8")
    return own + "\n" + HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs("pre.code") + "\n"


def _check_destination(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier gallery, which would lose what it holds."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; give --out a new or empty folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ConfigError(f"{out} already holds files and is not a charmony gallery; give --out a new or empty folder")


def _staging_folder(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=out.parent))
    except OSError as error:
        raise ConfigError(f"cannot write the gallery to {out}: {error.strerror or error}; give --out a folder you can write") from None
    staging.chmod(0o777 & ~current_umask())  # as a folder the user made; mkdtemp's is private
    return staging


def _move_into_place(staging: Path, out: Path) -> None:
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _read_sample(folder: Path, name: str) -> str | None:
    """The text of a sample file, None when it is gone; a CorpusError for a symbolic link or anything but a plain file."""
    if Path(name).name != name or not os.path.lexists(folder / name):
        return None
    with open_regular(folder / name, follow_links=False) as handle:
        return handle.read().decode("utf-8", errors="replace")


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write(text)
        _sync(file)


def _sync(file) -> None:
    """Flush a file to the disk, so that a full disk fails the build before the gallery is moved into place."""
    file.flush()
    os.fsync(file.fileno())


def gallery_sets(run: Run, folders: list[Path]) -> list[SampleSet]:
    """The sample sets to show: the folders given, or else every set of the run, in the order they were drawn."""
    if not folders:
        sets = run_sample_sets(run)
        if not sets:
            raise RunError(f"run {run.name!r} has no samples yet; run `charmony sample {run.name}` first, or give --samples DIR")
        return sets
    return [_given_set(folder, run) for folder in folders]


def _given_set(folder: Path, run: Run) -> SampleSet:
    """The samples of a folder given with --samples, or a RunError when it is not a sample folder of this run."""
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder; give --samples a folder that `charmony sample` wrote")
    sample_set = read_sample_set(folder, f"sample again with `charmony sample {run.name}`")
    if sample_set is None:
        raise RunError(f"{folder} is not a sample folder (it has no {REPORT}); give --samples a folder that `charmony sample` wrote")
    if sample_set.run != run.name:
        owner = sample_set.report.get("run")
        hint = f"make its gallery with `charmony gallery {owner} --samples {folder}`" if isinstance(owner, str) else "sample again"
        raise RunError(f"{folder} holds samples of run {owner!r}, not of {run.name!r}; {hint}")
    return sample_set


def build_gallery(run: Run, config: GalleryConfig) -> Gallery:
    """Write the gallery of `run`'s samples (the folders in `config`, or all of them) and return where it is."""
    sets = gallery_sets(run, [Path(folder) for folder in config.samples])
    out = Path(config.out) if config.out is not None else run.dir / "gallery"
    _check_destination(out)
    summary = summarise_run(run)
    plugins = outputs()
    renders = _missing_renders(run) if config.render else None
    staging = _staging_folder(out)
    try:
        files = GalleryFiles(staging)
        total = sum(len(s.samples) for s in sets)
        sections = []
        desc = "gallery (rendering what the samples lack)" if renders else "gallery"
        with tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, disable=None, leave=False) as progress:
            for set_number, sample_set in enumerate(sets, start=1):
                sections.append(_section(sample_set, set_number, files, plugins, renders, progress))
        _write(staging / "index.html", page_html(f"charmony gallery: {run.name}", run_header(summary), total, sections))
        _write(staging / "gallery.css", stylesheet())
        _write(staging / "gallery.js", resources.files("charmony.pipeline.gallery").joinpath("gallery.js").read_text(encoding="utf-8"))
        _write(staging / MARKER, json.dumps({
            "made_by": f"charmony {__version__}", "run": run.name, "run_dir": str(run.dir.resolve()),
            "sets": [{"folder": str(s.folder.resolve()), "samples": len(s.samples)} for s in sets],
        }, indent=2) + "\n")
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Gallery(out / "index.html", len(sets), total)


def _missing_renders(run: Run) -> MissingRenders:
    """The gallery's renderers, given the verdicts of the run's own checkers, as `charmony sample` gives them."""
    manifest = run.manifest()
    profile = run.profile()
    return MissingRenders([plugin.for_run(profile) for plugin in get_outputs(run_checks(manifest))])


def _section(sample_set: SampleSet, set_number: int, files: GalleryFiles, plugins: dict, renders: MissingRenders | None,
             progress) -> str:
    folder = sample_set.folder
    files.add_set(folder)

    def place_file(name: str) -> str | None:
        return files.place(folder, name)

    def place_rendered(name: str) -> str | None:
        return files.rendered_link(folder, name)

    cards = []
    for position, entry in enumerate(sample_set.samples):
        text = _read_sample(folder, entry["file"])
        rendered = GalleryRendered()
        if renders is not None and text is not None:
            rendered = renders.render(entry, folder / entry["file"], files.rendered_folder(folder))
        cards.append(card_html(entry, position, f"s{set_number}-{position}", text, folder, plugins, place_file,
                               rendered, place_rendered))
        progress.update(1)
    return set_section(sample_set, f"set{set_number}", place_file(REPORT), cards)
