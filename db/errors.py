"""The errors of the build, in a module of their own so every build step can raise them without
importing db/build.py (which runs the steps: importing it from a step would be an import cycle)."""


class BuildError(Exception):
    """The build stopped; the previous database is untouched. `problems` are db.validate.Problem
    items (FILE:LINE: message) when the stop was caused by invalid files, else empty."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []
