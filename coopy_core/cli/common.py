"""What every verb of `coopy` shares: its exit codes and the CONFIG argument's help."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

CONFIG_HELP = "the pipeline: coopy.toml, or one defined in Python: file.py[:attribute] or module:attribute"
