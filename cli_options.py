"""The command line's option types and parsers, and how a default taken from a config dataclass is shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from charmony.pipeline.system.errors import SEED_LIMIT
from charmony.pipeline.run.folder import RUNS_ENV


class Option(click.Option):
    """click's option, showing a default given as text as `[default: text]`, like any other default."""

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str) and "default" in extra:
            extra["default"] = self.show_default
        return extra


def option(*names, **settings):
    """`click.option` with charmony's `Option`."""
    return click.option(*names, cls=Option, **settings)


class SeedRange(click.IntRange):
    """A seed the random-number generators take: 0 to 2**63 - 1, said so briefly."""

    def __init__(self) -> None:
        super().__init__(0, SEED_LIMIT - 1)

    def _describe_range(self) -> str:
        return "0<=x<2**63"


class DeviceChoice(click.Choice):
    """auto, cpu or cuda; also cuda:N for one GPU of several."""

    def __init__(self) -> None:
        super().__init__(["auto", "cpu", "cuda"])

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.startswith("cuda:") and value[5:].isdigit():
            return value
        return super().convert(value, param, ctx)


class CheckpointChoice(click.ParamType):
    """best, latest, or the path of a checkpoint file."""

    name = "checkpoint"

    def get_metavar(self, param, ctx=None) -> str:
        return "[best|latest|PATH]"

    def convert(self, value, param, ctx):
        if value in ("best", "latest") or Path(value).is_file():
            return value
        self.fail(f"{value!r} is neither best, latest nor a checkpoint file", param, ctx)


def field_default(config_class, name: str):
    """The default of a config dataclass' field, so that the command line never repeats it."""
    field = next(f for f in dataclasses.fields(config_class) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def shown(value) -> str:
    """A default as help shows it: `[default: 0.1]`, `[default: no]` for False."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_options(ctx, param, values) -> dict[str, str]:
    """Turn repeated `--option KEY=VALUE` into a dict."""
    options = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        options[key] = setting
    return options


def parse_sources(ctx, param, values) -> list[Path]:
    """Paths from repeated `--source`; an empty one would silently mean the current folder."""
    if any(not value for value in values):
        raise click.BadParameter("an empty path is not a source")
    return [Path(value) for value in values]


def parse_names(ctx, param, value) -> list[str]:
    """Turn `a,b,c` into a list of names."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def runs_dir_option(command):
    """--runs-dir, shared by every command that reads or writes runs."""
    return option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=RUNS_ENV,
        default="runs",
        show_default=True,
        help=f"Folder holding one folder per run (or ${RUNS_ENV}).",
    )(command)
