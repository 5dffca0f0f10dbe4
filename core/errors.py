"""Errors a user can cause and fix: each carries a message fit to show as is.

Anything else reaching the top is a bug; the command line reports it as such.
"""


class UserError(Exception):
    """Bad input or an impossible request: the message says what and where."""


class ProjectError(UserError):
    """The project folder or its database cannot be used."""


class SchemaTooNewError(ProjectError):
    """The database was written by a newer mtlabel than this one."""


class NotFoundError(UserError):
    """A named task, image or run does not exist."""


class LabelFileError(UserError):
    """A label file has errors; nothing from it was applied.

    ``problems`` holds one line per error, each naming the line of the file.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = problems[:20]
        more = len(problems) - len(shown)
        text = f"{path}: {len(problems)} error(s), nothing was imported:\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)
