"""What a gallery renders itself: the scores and audio a sample set lacks, into the gallery's own folder.

`charmony sample` renders only with the plugins given to `--render`; a gallery of such a set would
show no score and no player. So the gallery runs the output plugins named in GALLERY_RENDERERS on
every sample whose samples.json has no result of theirs, writing into its own files/ folder: the
sample folder and its samples.json are never changed. The plugins are used through their ordinary
interface (`render_checked` and `card`), so what they write and how they show it is theirs to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from charmony.pipeline.outputs.runner import OutputRunner
from charmony.pipeline.plugin.manager import get_outputs
from charmony.pipeline.plugin.output import OutputPlugin

# The output plugins whose results a gallery adds where a sample lacks them: a score to see and audio to hear.
GALLERY_RENDERERS = ("score", "audio")


@dataclass
class GalleryRendered:
    """What the gallery rendered for one sample: each plugin's result (as samples.json would hold it) and where its files are."""

    results: dict[str, dict] = field(default_factory=dict)
    folder: Path | None = None  # the folder in the gallery holding the files


class MissingRenders:
    """Renders for the samples of one gallery what their sample sets lack, with the run's checkers judging them first."""

    def __init__(self, checkers: list[OutputPlugin], renderers: tuple[str, ...] = GALLERY_RENDERERS):
        self.checkers = checkers  # each renderer is given their verdicts, as `charmony sample` gives them
        self.renderers = {plugin.name: plugin for plugin in get_outputs(list(renderers))}
        self._runners: dict[tuple[str, ...], OutputRunner] = {}

    def lacking(self, entry: dict, path: Path) -> list[str]:
        """The gallery's renderers that understand the sample at `path` and have no result for it in its entry."""
        outputs = entry.get("outputs")
        done: dict = outputs if isinstance(outputs, dict) else {}
        return [name for name, plugin in self.renderers.items() if name not in done and plugin.accepts(path)]

    def render(self, entry: dict, path: Path, out_dir: Path) -> GalleryRendered:
        """Render the sample at `path` into `out_dir` with each renderer it lacks; nothing when it lacks none or is gone."""
        names = tuple(self.lacking(entry, path)) if path.is_file() else ()
        if not names:
            return GalleryRendered()
        runner = self._runners.get(names)
        if runner is None:
            runner = self._runners[names] = OutputRunner([*self.checkers, *(self.renderers[name] for name in names)])
        results = runner.run(path, out_dir).results
        return GalleryRendered({name: results[name] for name in names if name in results}, out_dir)
