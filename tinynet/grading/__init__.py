"""The exercise grader: ``tinynet check FILE`` and ``tinynet check --class FOLDER --exercise NAME``.

An application of tinynet, not part of the engine. It assumes a submission is broken or hostile:

* the student's file runs in a child Python (``runner``, ``child``): isolated mode, its own
  temporary folder, no stdin, a memory cap, and a wall-clock limit enforced by killing its whole
  process group; guard rails stop it when it tries what graded code never needs (``sandbox``);
* the child only reports the values the student's code produced (``protocol``); the inputs, the
  reference values (tinynet's own implementation) and every pass/fail decision are computed here,
  in the parent (``grade``, ``compare``), which the student's code never touches;
* each exercise is a file of parts in ``exercises/`` (``registry`` explains a part);
* a whole class is graded in parallel into a CSV (``batch``).

    from tinynet.grading import check_file, check_class
    check_file("lessons/exercises/ex01_relu.py").ok
"""
from .batch import check_class
from .choose import find_exercise
from .grade import check_file
from .results import FileResult, PartResult
from .registry import EXERCISES

__all__ = ["EXERCISES", "FileResult", "PartResult", "check_file", "check_class", "find_exercise"]
