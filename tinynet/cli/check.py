"""``tinynet check FILE…``: grade exercise files; all of it lives in ``tinynet.grading.cli``."""

HELP = "grade exercise files, or a class folder into a CSV: PASS/FAIL for each part, with hints"


def add_arguments(p):
    from ..grading.cli import add_arguments
    add_arguments(p)


def run(args):
    from ..grading.cli import run
    return run(args)
