"""Errors the engine raises on bad user input; the CLI turns them into one clear message."""


class ConfigError(ValueError):
    """A user-supplied value is wrong. The message names the field and says what to do."""


class MissingDependency(RuntimeError):
    """An optional package is needed. The message names the pip package to install."""


# Exit codes of the engine's commands (train, measure, export); the CLI reads them from exit_code.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 1, 2, 3
