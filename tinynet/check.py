"""``python -m tinynet.check FILE`` and ``from tinynet.check import main``: the exercise grader.

The grader lives in ``tinynet.grading`` (an application of tinynet, not part of the engine); this
module keeps the short name that the exercise files and the lessons use.
"""
import sys

from .grading import EXERCISES, check_file  # noqa: F401
from .grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
