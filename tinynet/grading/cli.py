"""``tinynet check`` (also ``python -m tinynet.check`` and ``python -m tinynet.grading``).

    tinynet check FILE … [--exercise NAME] [--timeout S] [--memory MB] [--seed N] [--show-output]
    tinynet check --class FOLDER --exercise NAME [--csv grades.csv] [--jobs N] [--timeout S] …

Exit status: one file or several: 0 when every part of every file passes, 1 otherwise; a class:
0 when every submission was graded (their grades are in the report and the CSV); 2 for a mistake in
the command (a missing file or folder, a bad option); 130 after Ctrl-C.
"""
import argparse
import math
import sys

from .batch import BatchError, check_class
from .choose import find_exercise, names
from .grade import DEFAULT_MEMORY, DEFAULT_TIMEOUT, check_file
from .results import one_line, print_report


def _number(kind, low, high):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
        return value
    return parse


def add_arguments(p):
    p.add_argument("files", nargs="*", metavar="FILE", help="exercise files, e.g. lessons/exercises/ex03_softmax_ce.py")
    p.add_argument("--exercise", metavar="NAME", help=f"grade as this exercise (name or number: {names()}); "
                   "default: from the file's name (exNN_…), which must agree with its EXERCISE")
    p.add_argument("--class", dest="folder", metavar="FOLDER", help="grade every submission in FOLDER (a .py per "
                   "student, or a sub-folder per student); needs --exercise")
    p.add_argument("--csv", metavar="PATH", help="with --class: write the grades to this CSV file")
    p.add_argument("--jobs", type=_number(int, 1, 256), metavar="N", help="with --class: files graded at once "
                   "(default: the number of cores)")
    p.add_argument("--timeout", type=_number(float, 0.5, 3600), default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"wall-clock seconds per file (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--memory", type=_number(int, 256, 1 << 20), default=DEFAULT_MEMORY >> 20, metavar="MB",
                   help=f"memory cap per file in MB (default {DEFAULT_MEMORY >> 20})")
    p.add_argument("--seed", type=_number(int, 0, 2 ** 31 - 1), metavar="N",
                   help="repeat the random test inputs of an earlier run (the report prints its seed)")
    p.add_argument("--show-output", action="store_true", help="show what the file printed while it was graded")


def run(args, err=sys.stderr):
    """Run ``tinynet check`` with parsed ``args``; return the exit status."""
    prog = "tinynet check"
    if args.folder is not None and args.files:
        return _error(prog, "give either FILE … or --class FOLDER, not both", err)
    if args.folder is None and not args.files:
        return _error(prog, "give an exercise file, or --class FOLDER --exercise NAME", err)
    if args.folder is None and (args.csv or args.jobs):
        return _error(prog, "--csv and --jobs go with --class FOLDER", err)
    memory = args.memory << 20
    if args.exercise is not None and find_exercise(args.exercise) is None:
        return _error(prog, f"--exercise {args.exercise!r}: no such exercise; expected one of: {names()}", err)
    try:
        if args.folder is not None:
            return _run_class(args, memory, prog, err)
        worst = 0
        for i, path in enumerate(args.files):
            result = check_file(path, args.exercise, args.timeout, memory, args.seed, out=None)
            worst = max(worst, 2 if result.usage_error else 0 if result.ok else 1)
            if result.usage_error:
                _error(prog, result.problem, err)
                continue
            if i:
                print()
            print_report(result, sys.stdout, args.show_output)
        return worst
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=err)
        return 130


def _run_class(args, memory, prog, err):
    if args.exercise is None:
        return _error(prog, f"--class needs --exercise NAME (one of: {names()})", err)
    exercise = find_exercise(args.exercise)
    if exercise is None:
        return _error(prog, f"--exercise {args.exercise!r}: no such exercise; expected one of: {names()}", err)
    try:
        check_class(args.folder, exercise, args.csv, args.jobs, args.timeout, memory, args.seed)
    except (BatchError, OSError) as e:
        return _error(prog, str(e), err)
    return 0


def _error(prog, message, err):
    print(f"{prog}: error: {one_line(message, 1000)}", file=err)
    return 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line instead of argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def main(argv=None):
    parser = _Parser(prog="tinynet check", description="Grade exercise files (lessons/exercises/), "
                     "each in an isolated, time-limited child process.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
