"""``python -m ragworks`` runs the command line."""

from ragworks.cli.main import app

app()
