"""Named training recipes a corpus plugin ships, such as the PTB tutorial's small, medium and large."""

from __future__ import annotations

from dataclasses import dataclass, fields



@dataclass(frozen=True)
class Recipe:
    """Training settings under a name, each named as its `charmony train` option; None leaves the default.

    Options the user gives on the command line win over the recipe's.
    """

    description: str  # one line for `charmony plugins NAME`
    layers: int | None = None
    hidden: int | None = None
    embedding: int | None = None
    cell: str | None = None
    dropout: float | None = None
    recurrent_dropout: float | None = None
    tie_weights: bool | None = None
    init_scale: float | None = None
    seq_len: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    warmup_steps: int | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    ema_decay: float | None = None
    output_prior: bool | None = None
    max_steps: int | None = None
    max_minutes: float | None = None
    eval_every: int | None = None
    patience: int | None = None
    save_every: int | None = None

    def settings(self) -> dict[str, object]:
        """The settings the recipe gives, by option name (`seq_len` for `--seq-len`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "description" and getattr(self, f.name) is not None}

    def flags(self) -> str:
        """The settings as the command-line flags they stand for, e.g. `--layers 2 --hidden 200`."""
        parts = []
        for name, value in self.settings().items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else "--no-" + flag[2:])
            else:
                parts.append(f"{flag} {value}")
        return " ".join(parts)


def apply_recipe(recipe: Recipe | None, given: dict[str, object]) -> dict[str, object]:
    """The recipe's settings overridden by the options the user gave (`given`, by option name)."""
    return {**(recipe.settings() if recipe else {}), **given}
