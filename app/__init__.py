"""mtlabel desktop application (PySide6). Never imports torch; an import-linter contract checks it.

The window arrives with the "Desktop app" issues; until then the program is the
``mtlabel`` command line in ``core``.
"""
