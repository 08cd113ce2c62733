"""``ragworks up | status | down | logs``: a whole scaled stack on one machine, from a TOML file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from ragworks.stack import StackError
from ragworks.stack.config import StackConfig, load_stack_config
from ragworks.stack.runfiles import RunDir

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="RAGWORKS_STACK_CONFIG",
        help="The stack's TOML file (default: ./ragworks.toml when it exists; see docs/scaled-profile.md).",
    ),
]


def up(
    workers: Annotated[int | None, typer.Option(min=0, help="Worker processes (stack.workers).")] = None,
    api_workers: Annotated[
        int | None, typer.Option(min=1, help="HTTP processes of the API (stack.api_workers).")
    ] = None,
    config: ConfigOption = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Leave the stack running in the background.")
    ] = False,
) -> None:
    """Start the scaled stack: PostgreSQL (unless store.url names one), the API and N workers.

    Runs in the foreground until Ctrl-C (or `ragworks down`), restarting any process that crashes; logs
    and PID files go to <data_dir>/run/.
    """
    from ragworks.stack.runner import configure_progress, detached_argv, run_foreground, start_detached

    configure_progress()
    log = logging.getLogger("ragworks.stack")
    try:
        stack_config, source = load_stack_config(config)
        if detach:
            argv = detached_argv(source, workers, api_workers)
            url = start_detached(stack_config, source, argv, typer.echo)
            typer.echo(f"stack is up: API {url}")
            typer.echo("`ragworks status` shows it, `ragworks logs -f` follows it, `ragworks down` stops it")
            return

        def on_up(url: str) -> None:
            stops = "Ctrl-C or `ragworks down`" if sys.stdin.isatty() else "`ragworks down`"
            log.info("stack is up: API %s (%s stops it)", url, stops)

        run_foreground(stack_config, source, workers, api_workers, on_up)
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def status(config: ConfigOption = None) -> None:
    """Show each process of the stack (pid, state, port, uptime, restarts); exit 1 when any is down."""
    from ragworks.stack.control import format_table, stack_status

    current = stack_status(_run_dir(config)[0])
    typer.echo(current.summary)
    if current.rows:
        typer.echo(format_table(current.rows))
    raise typer.Exit(0 if current.healthy else 1)


def down(config: ConfigOption = None) -> None:
    """Stop the stack: workers first, then the API, then the servers (SIGTERM, SIGKILL after the grace)."""
    from ragworks.stack.control import stop_stack

    run_dir, stack_config = _run_dir(config)
    if stop_stack(run_dir, stack_config.stack.stop_timeout_s, typer.echo):
        typer.echo("stack stopped")
    else:
        typer.echo(f"no stack is running from {run_dir.root.parent}")


def logs(
    name: Annotated[
        str | None,
        typer.Argument(help="A process (api, worker-1, postgres, supervisor ...); all by default."),
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines to show from each log.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Print the stack's logs (from <data_dir>/run/), one process or all of them."""
    from ragworks.stack.control import follow_logs, log_files, tail_logs

    try:
        files = log_files(_run_dir(config)[0], name)
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in tail_logs(files, lines):
        typer.echo(line)
    if follow:
        try:
            for line in follow_logs(files, lambda: False):
                typer.echo(line)
        except KeyboardInterrupt:
            return


def _run_dir(config: Path | None) -> tuple[RunDir, StackConfig]:
    from ragworks.stack.plan import data_dir_of

    try:
        stack_config, source = load_stack_config(config)
        return RunDir(data_dir_of(stack_config, source) / "run"), stack_config
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
