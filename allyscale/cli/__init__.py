"""The ``allyscale`` command line: thin wrappers that parse, call the public API, write files.

Exit codes: 0 success; 1 an analysis failed or an internal error; 2 bad input or usage
(the message starts with ``error:``). ``--debug`` shows the traceback of a failure.
"""

from __future__ import annotations

import sys
import traceback

import click

from allyscale import __version__
from allyscale.errors import AllyscaleError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Group(click.Group):
    """A click group that turns allyscale errors into ``error: ...`` and an exit code."""

    def main(self, *args, **kwargs):
        """Usage errors (unknown option, bad choice, missing argument) also print ``error: ...``, exit 2."""
        if not kwargs.pop("standalone_mode", True):
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(EXIT_FAILED)
        except click.ClickException as exc:
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except AllyscaleError as exc:
            _fail(ctx, exc, EXIT_BAD_INPUT)
        except BrokenPipeError:
            # output piped into a program that stopped reading (e.g. `| head`)
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except MemoryError:
            _fail(ctx, "out of memory: the input is too large for this machine (see allyscale.limits)", EXIT_FAILED)
        except OSError as exc:
            # the machine failed the run (disk full, permission, I/O): no traceback, outputs untouched
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _fail(ctx, f"{where}{exc.strerror or exc}", EXIT_FAILED)
        except Exception as exc:
            _fail(ctx, exc, EXIT_FAILED, internal=True)


#: longest error message printed (a message that echoes a huge value is cut)
MAX_MESSAGE = 2000


def _fail(ctx: click.Context, exc: BaseException | str, code: int, internal: bool = False) -> None:
    """Print one ``error:`` line (the traceback only with ``--debug``) and exit with ``code``.

    Every command gets this automatically: it runs in :meth:`_Group.invoke`.
    """
    debug = bool(ctx.find_root().params.get("debug"))
    if debug:
        traceback.print_exc()
    prefix = "error: " + ("internal error: " if internal else "")
    hint = "" if debug or not internal else " (rerun with --debug for the traceback)"
    text = str(exc)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f" ... ({len(text) - MAX_MESSAGE:,} more characters)"
    click.echo(f"{prefix}{text}{hint}", err=True)
    ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allyscale")
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
def main(debug: bool) -> None:
    """allyscale: develop and validate psychological measurement scales.

    \b
    Exit codes: 0 success; 1 analysis failure or internal error;
    2 bad input or usage (message on stderr starting with 'error:').
    """
    # The command line runs BLAS single-threaded: allyscale's matrices are small, and threaded BLAS
    # made small fits many times slower on 2-core machines. (Library calls leave threading alone.)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _show_warnings_plainly()


def _show_warnings_plainly() -> None:
    """allyscale's warnings (dropped rows, Heywood cases, recoded cells...) print as ``warning: ...``."""
    import warnings

    from allyscale.errors import AllyscaleWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, AllyscaleWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _register() -> None:
    """Add the commands of every ``allyscale/cli/*_cmd.py`` module (each defines ``register(main)``)."""
    import importlib
    import pkgutil

    import allyscale.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"allyscale.cli.{info.name}").register(main)


_register()
