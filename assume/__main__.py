"""``python -m assume`` runs the command line."""

import sys

from assume.cli import command

sys.exit(command())
