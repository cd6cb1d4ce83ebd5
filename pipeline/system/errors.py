"""Exceptions for mistakes a user can fix; the CLI turns each into a one-line message."""


class CharmonyError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class PluginError(CharmonyError):
    """A plugin is missing, misnamed or clashes with another."""


class CorpusError(CharmonyError):
    """A corpus source is missing, empty or unreadable."""


class RunError(CharmonyError):
    """A run directory is missing, incomplete or inconsistent."""


class CheckpointError(CharmonyError):
    """A checkpoint is missing, corrupt or does not fit the run."""


class AbcError(CharmonyError):
    """ABC text that cannot be read as a tune."""


class ConfigError(CharmonyError):
    """A setting is out of range or does not fit the data."""


class RenderError(CharmonyError):
    """A tool needed for rendering is missing or failed, or a render ran out of time."""


# torch's and numpy's generators take seeds from 0 up to this, exclusive.
SEED_LIMIT = 2**63


def check_seed(seed: int) -> None:
    """Raise a ConfigError for a seed the random-number generators cannot take."""
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"--seed must be from 0 to 2**63 - 1, not {seed}")
