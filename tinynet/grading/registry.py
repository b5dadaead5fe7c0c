"""Exercises and their parts, as data: what to run on the student's code, and how to judge it.

A part is three functions, so that the student's code and the grader's judgement never share a
process:

    inputs(rng) -> dict          in the grader (parent): random test inputs
    run(mod, inputs) -> dict     in a child process on the student's module, and in the parent on
                                 the reference module (tinynet's own implementation); it returns
                                 plain values (arrays, numbers, strings), never a verdict
    judge(got, ref, inputs)      in the parent: raises ``Failed`` when the student's values
                                 (``got``) are wrong; ``ref`` holds the reference's values

``uses`` names the functions of the exercise file a part calls (``"ReLU.backward"``), so that a
part that stops at a ``raise NotImplementedError`` can name the TODOs it needs.
"""
from .compare import compare_all

EXERCISES = {}        # name -> Exercise, in the order of the exercise numbers


class Part:
    def __init__(self, title, hint, inputs, run, judge, uses):
        self.title, self.hint, self.uses = title, hint, tuple(uses)
        self.inputs, self.run, self.judge = inputs, run, judge


class Exercise:
    """One exercise: its number (the ``exNN_`` of its file), name, title and parts.

    ``reference()`` returns an object with the same names as the exercise file (``relu``,
    ``Conv2d``, ``Adam`` …) built from tinynet's own implementation; it is called in the parent only.
    ``forbidden()`` lists tinynet's objects that a solution may not call (the graded thing itself);
    the child reports any call of them while the student's file is imported or graded.
    """

    def __init__(self, number, name, title, reference, forbidden):
        self.number, self.name, self.title = number, name, title
        self.reference, self.forbidden = reference, forbidden
        self.parts = []

    def part(self, title, hint, inputs, uses=(), judge=compare_all):
        """Decorator: register ``run`` as the next part."""
        def register(run):
            self.parts.append(Part(title, hint, inputs, run, judge, uses))
            return run
        return register

    @property
    def file_stem(self):
        return f"ex{self.number:02d}_{self.name}"


def exercise(number, name, title, reference, forbidden):
    EXERCISES[name] = ex = Exercise(number, name, title, reference, forbidden)
    return ex


def by_number(number):
    return next((ex for ex in EXERCISES.values() if ex.number == number), None)
