"""The ``tinynet`` command: ``tinynet train|eval|predict|summary|finetune|check|serve|doctor …`` (``tinynet COMMAND --help``).

One module per command (``tinynet/cli/train.py`` …), each a thin shell over the library with
``HELP``, ``add_arguments(parser)`` and ``run(args) -> exit code``; what they share (errors,
option types, checkpoints, ``--out``) is ``common.py``, and no command imports another. Another
module adds a command of its own with ``register(name, help, add_arguments, run)``.

Exit codes: 0 done; 2 after a one-line ``tinynet COMMAND: error: …`` about what was asked (a bad
option, a missing or damaged file); 1 for a run that failed; 130 after Ctrl-C.
"""
import importlib
import sys
import warnings

from .common import EXIT_ERROR, EXIT_INTERRUPTED, FILE_ERRORS, CLIError, OneLineParser, print_error

__all__ = ["main", "build_parser", "register", "COMMANDS", "CLIError"]

COMMAND_MODULES = ("train", "eval", "predict", "summary", "finetune", "check", "serve", "doctor")   # tinynet/cli/NAME.py, in --help order
COMMANDS = {}      # name -> (help, add_arguments, run), filled by build_parser


def register(name, help, add_arguments, run):
    """Make ``tinynet NAME`` call ``run(args)`` with the options ``add_arguments(parser)`` declares."""
    COMMANDS[name] = (help, add_arguments, run)


def _register_command_modules():
    """Import each module of ``COMMAND_MODULES`` (only now: ``import tinynet.cli.train`` loads no other command)."""
    for name in COMMAND_MODULES:
        if name not in COMMANDS:
            command = importlib.import_module(f".{name}", __name__)
            register(name, command.HELP, command.add_arguments, command.run)


def build_parser():
    """The ``tinynet`` parser, with a sub-parser for every command."""
    return _build_parsers()[0]


def _build_parsers():
    """The ``tinynet`` parser and ``{name: sub-parser}`` of its commands."""
    _register_command_modules()
    parser = OneLineParser(prog="tinynet", description="Train and use the tinynet MNIST models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands = {}
    for name, (help, add_arguments, _) in COMMANDS.items():
        commands[name] = sub.add_parser(name, help=help, description=help)
        add_arguments(commands[name])
    return parser, commands


def main(argv=None):
    """Run ``tinynet ARGV`` (default: the program's arguments); return its exit code.

    Ctrl-C while the modules load or the options are read ends with one line and exit code 130,
    like Ctrl-C later on. NumPy's RuntimeWarnings (an overflow in a diverging run, …) are not
    printed: the command reports what went wrong in its one error line."""
    try:
        parser, commands = _build_parsers()
        args, extra = parser.parse_known_args(argv)
        if extra:      # options the command does not know: name the command, not bare "tinynet"
            (commands[args.command] if args.command else parser).error(
                f"unrecognized arguments: {' '.join(extra)}")
    except KeyboardInterrupt:
        print("\ntinynet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            code = COMMANDS[args.command][2](args)
        if code == EXIT_INTERRUPTED and argv is None:   # the program ends after Ctrl-C: another Ctrl-C
            import signal                               # must not kill it on the way out
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return code
    except (CLIError,) + FILE_ERRORS as e:
        print_error(args.command, e)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"\ntinynet {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
