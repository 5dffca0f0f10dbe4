"""Image files: safe decoding and import into a project."""
