"""The ``mtlabel`` command line."""
