"""Which exercise a file is: ``--exercise``, else its file name, and its ``EXERCISE`` must agree."""
from .registry import EXERCISES, by_number
from .results import one_line
from .source import _MISSING, NotAString, NotGradable, exercises_named_by


def find_exercise(name):
    """An exercise by name (``relu``), number (``1``, ``01``) or file stem (``ex01_relu``), or None."""
    text = str(name).strip().lower()
    if text in EXERCISES:
        return EXERCISES[text]
    digits = text[2:].split("_")[0] if text.startswith("ex") else text
    return by_number(int(digits)) if digits.isdigit() else None


def names():
    return ", ".join(EXERCISES)


def choose_exercise(source, requested=None):
    """The Exercise to grade ``source`` as, or ``NotGradable`` saying why there is none."""
    declared = source.declared
    if isinstance(declared, NotAString):
        raise NotGradable(f"EXERCISE must be a plain string such as EXERCISE = \"relu\", not {declared}; "
                          f"expected one of: {names()}")
    if declared is not _MISSING and declared not in EXERCISES:
        raise NotGradable(f"the file sets EXERCISE = {one_line(repr(declared), 60)}, which is no exercise; "
                          f"expected one of: {names()}")
    if requested is not None:
        ex = find_exercise(requested)
        if ex is None:
            raise NotGradable(f"--exercise {requested!r}: no such exercise; expected one of: {names()}", usage=True)
        if declared is not _MISSING and declared != ex.name:
            raise NotGradable(f"graded as exercise {ex.number:02d} ({ex.name}), but the file sets "
                              f"EXERCISE = {declared!r}: it is another exercise")
        return ex
    named = exercises_named_by(source.path, EXERCISES.values())
    if None in named:
        raise NotGradable(f"the file's name {source.path.name} points at an exercise number that does not exist; "
                          f"pass --exercise NAME (one of: {names()})")
    if len(named) > 1:
        raise NotGradable(f"the file's name {source.path.name} points at several exercises "
                          f"({', '.join(ex.name for ex in named)}); pass --exercise NAME")
    if named:
        if declared is not _MISSING and declared != named[0].name:
            raise NotGradable(f"the file's name says exercise {named[0].number:02d} ({named[0].name}), but it sets "
                              f"EXERCISE = {declared!r}")
        return named[0]
    if declared is _MISSING and source.syntax_error:
        raise NotGradable(f"the file does not run: {source.syntax_error}")
    if declared is _MISSING:
        raise NotGradable("cannot tell which exercise this is: name the file exNN_….py, set EXERCISE = \"…\" in it, "
                          f"or pass --exercise NAME (one of: {names()})")
    return EXERCISES[declared]
