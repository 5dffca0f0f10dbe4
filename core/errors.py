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


_DATABASE_HINTS = (
    ("disk I/O error", "the disk may be full, failing or disconnected"),
    ("readonly database", "the project's database file or folder is read-only"),
    ("unable to open database file", "the project folder may have moved or become unreadable"),
)
"""SQLite's words that do not say what to check, and what to check."""


def database_words(orig: BaseException | str | None) -> str:
    """The driver's own words for a database failure, with a hint where they are cryptic.

    SQLite reports a full disk as "disk I/O error" on some file systems; a person
    reading that should think of the disk's free space, so it is said.
    """
    text = str(orig).strip() if orig is not None else "unknown failure"
    for words, hint in _DATABASE_HINTS:
        if words in text:
            return f"{text} ({hint})"
    return text
