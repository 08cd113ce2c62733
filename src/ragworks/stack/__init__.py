"""A whole scaled stack on one machine: PostgreSQL, optional Redis, the API and workers, supervised.

``config`` reads the TOML file, ``plan`` turns it into process specs, ``supervisor`` starts, restarts
and stops them, ``runfiles`` keeps PID files, logs and state under ``<data_dir>/run/``, and ``control``
answers ``status``, ``down`` and ``logs`` from those files.
"""


class StackError(RuntimeError):
    """A stack command cannot go on; the message says why and what to do."""
