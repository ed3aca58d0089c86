"""The package's exceptions.

Every problem a reader can cause (a missing file, a wrong column, an empty corpus, asking for the
``full`` scale without a network) raises one of these with a message that names the problem and
the file, so that notebooks show one clear line and the command line exits with code 2 instead of
a traceback from deep inside a library.
"""


class FromZeroError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(FromZeroError, ValueError):
    """Bad input from the user: a missing or malformed file, wrong columns, an empty corpus."""


class ScaleUnavailableError(FromZeroError, RuntimeError):
    """The ``full`` scale was requested but its datasets or checkpoints cannot be downloaded."""


class InputWarning(UserWarning):
    """Input that can be read but probably is not what the user meant (the command line prints it as one line)."""
