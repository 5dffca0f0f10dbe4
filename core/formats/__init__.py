"""Label files: import and export of wide CSV, Open Images, CheXpert-style CSV and JSON.

``import_labels`` validates the whole file first and applies it in one
transaction (or raises LabelFileError listing every problem with its line);
``export_labels`` writes atomically. See each format's module for its rules.
"""

from core.formats.api import FORMATS, export_labels, import_labels
from core.formats.common import LabelExportSummary, LabelImportSummary

__all__ = [
    "FORMATS",
    "LabelExportSummary",
    "LabelImportSummary",
    "export_labels",
    "import_labels",
]
