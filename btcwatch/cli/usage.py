"""Help and usage errors as the README documents them.

Typer's defaults show a type placeholder for every option (``<bool>`` beside a flag that takes
no value, ``<list[str]>`` beside an option given once per value) and draw usage errors in a
box over several lines. Cron mail and scripts expect one line, ``btcwatch: error: ...``, exit 2;
a person reading ``--help`` wants to see what to type. Both are shaped here, once, for the whole
command tree.
"""

from __future__ import annotations

from typing import Any

import typer


def tidy_params(command: Any) -> None:
    """Walk the command tree once: flags (``--help`` too) show no placeholder, repeatable
    options and arguments the type of one value (their help says "repeatable")."""
    for param in getattr(command, "params", ()):
        if param.metavar is not None:
            continue
        if getattr(param, "param_type_name", "") == "argument":
            if param.nargs != 1:  # ``ADDRESSES...`` already says "one or more"
                shown = _one_value(param)
                param.display_type_rich = lambda ctx, shown=shown: shown
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "multiple", False):
            param.metavar = _one_value(param)
    _quiet_help_option(command)
    for child in getattr(command, "commands", {}).values():
        tidy_params(child)


def _one_value(param: Any) -> str:
    """``<str>`` for a ``list[str]`` parameter: the type of each value given."""
    label = str(param.bare_type())
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return f"<{label}>"


def _quiet_help_option(command: Any) -> None:
    """``--help`` is made per invocation (click's `get_help_option`): no placeholder either."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def is_usage_error(exc: BaseException) -> bool:
    """A click error of the command line (typer vendors click, so test by shape, not class)."""
    return isinstance(exc, typer.TyperException) and hasattr(exc, "format_message")


def error_line(exc: Any) -> str:
    """``no such option: --bogus (see btcwatch watch --help)``: the message, then where help is."""
    message = " ".join(str(exc.format_message()).split()).rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:  # named btcwatch however it was started (python -m, a test runner)
        path = " ".join(["btcwatch", *ctx.command_path.split()[1:]])
        message += f" (see {path} --help)"
    return message
