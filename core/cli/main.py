"""``mtlabel``: the command line. Each subcommand lives in a small module.

User errors print one line on stderr and exit 1; nothing prints a traceback
at a user. An unexpected error (a bug) prints one line and writes the
traceback to a log file whose path the line names.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from core import __version__
from core.cli import cmd_device, cmd_export, cmd_labels, cmd_project, cmd_train
from core.errors import UserError, database_words

EXIT_USER_ERROR = 1
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command its pipe killed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtlabel",
        description="Multi-task image labelling with partial labels.",
    )
    parser.add_argument("--version", action="version", version=f"mtlabel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmd_project.register(sub)
    cmd_labels.register(sub)
    cmd_train.register(sub)
    cmd_device.register(sub)
    cmd_export.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
        return result
    except UserError as exc:
        print(f"mtlabel: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("mtlabel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``mtlabel runs P | head``): stop quietly, as other
        # commands do, and keep Python from failing again on flushing at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except OperationalError as exc:
        print(f"mtlabel: database error: {database_words(exc.orig)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except sqlite3.Error as exc:
        print(f"mtlabel: database error: {database_words(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(f"mtlabel: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:  # a bug: keep the traceback, but not in the user's face
        with tempfile.NamedTemporaryFile(
            "w", prefix="mtlabel-crash-", suffix=".log", delete=False
        ) as log:
            traceback.print_exc(file=log)
        print(
            f"mtlabel: internal error: {type(exc).__name__}: {exc} (details in {log.name})",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
