"""What every ``tinynet`` command shares: its errors, the option types, checkpoints and ``--out``.

Errors a user can fix (a bad option, a missing file, a checkpoint that is not one) are a
``CLIError`` or one of ``FILE_ERRORS``: ``tinynet.cli.main`` prints them as one line
``tinynet COMMAND: error: …`` on stderr and exits with code 2, without a traceback. A run that
failed after it started (a checkpoint that could not be saved, a diverged loss) exits with 1,
and Ctrl-C with 130.
"""
import argparse
import json
import math
import os
import re
import sys

from .. import backend, data, parallel, run_folder, train as training
from ..recipes import NORMALIZE, normalize_values
from ..runs import load_weights as _load_weights

EXIT_ERROR, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class CLIError(Exception):
    """A problem in what the user asked for; printed as one line, exit code 2."""


def _file_errors():
    """The library's errors about a file that cannot be used (their messages are one line naming it)."""
    from data_tools.idx import IDXError
    from data_tools.mnist import ChecksumError, DatasetNotFoundError
    from ..serialization import CheckpointError
    return (CheckpointError, ChecksumError, DatasetNotFoundError, IDXError, data.ImageError)


FILE_ERRORS = _file_errors()    # printed like a CLIError, exit code 2


class SaveError(Exception):
    """A checkpoint could not be written (disk full, permission); printed as one line, exit code 1."""


_LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text):
    """``text`` with its control characters (a newline in a file name, …) escaped as Python
    writes them in a string (``\\n``), so an error line naming any path stays one line."""
    return _LINE_BREAKERS.sub(lambda m: repr(m.group())[1:-1], str(text))


def print_error(command, error):
    """Print the one line ``tinynet COMMAND: error: …`` on stderr."""
    print(one_line(f"tinynet {command}: error: {error}"), file=sys.stderr)


def failed(command, error):
    """Print ``tinynet COMMAND: error: …`` for a run that failed; return exit code 1."""
    print_error(command, error)
    return EXIT_FAILED


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``tinynet train: error: … (see: … --help)``), exit 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, one_line(f"{self.prog}: error: {message} (see: {self.prog} --help)") + "\n")


# --- option types: each rejects a bad value with a message that says what is allowed --------

def _number(text, kind, expected, ok, problem):
    """``kind(text)`` if ``ok`` of it, else an ArgumentTypeError that says what is allowed."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(problem.format(value=value, text=text))
    return value


def positive_int(text):
    return _number(text, int, "a positive whole number", lambda v: v >= 1, "must be at least 1, got {value}")


MAX_IMAGE_SCALE = 40     # 28×28 pixels × 40 = 1120×1120: big enough, and a bounded file


def image_scale(text):
    """How many times to enlarge a 28×28 image: a whole number 1…MAX_IMAGE_SCALE."""
    return _number(text, int, "a whole number", lambda v: 1 <= v <= MAX_IMAGE_SCALE,
                   f"must be between 1 and {MAX_IMAGE_SCALE}, got {{value}}")


def positive_float(text):
    return _number(text, float, "a number such as 1e-3", lambda v: v > 0 and math.isfinite(v),
                   "must be a positive number, got {text}")


def fraction(text):
    return _number(text, float, "a number in [0, 1)", lambda v: 0 <= v < 1, "must be in [0, 1), got {text}")


def seed(text):
    """A seed: a whole number, 0 or more."""
    return _number(text, int, "a whole number such as 0", lambda v: v >= 0, "must be 0 or more, got {value}")


def workers(text):
    """A worker count: a whole number from 1 to ``parallel.MAX_WORKERS``."""
    return _number(text, int, "a whole number such as 2", lambda v: 1 <= v <= parallel.MAX_WORKERS,
                   f"must be from 1 to {parallel.MAX_WORKERS}, got {{value}}")


def int_between(low, high=None, example=None):
    """An option type for a whole number from ``low`` to ``high`` (None: no upper bound), e.g.
    ``add_argument("--rounds", type=int_between(1), default=10)``."""
    expected = f"a whole number such as {low if example is None else example}"
    if high is None:
        return lambda text: _number(text, int, expected, lambda v: v >= low, f"must be at least {low}, got {{value}}")
    return lambda text: _number(text, int, expected, lambda v: low <= v <= high,
                                f"must be from {low} to {high}, got {{value}}")


def path(text):
    """A file or folder path: not empty (``--out ''`` is a mistake, not the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty one ('')")
    return text


def normalization(text):
    """``mnist``, ``half``, ``none`` or ``MEAN,STD`` (see ``tinynet.recipes.normalize_values``)."""
    if text in NORMALIZE:
        return text
    try:
        mean, std = normalize_values(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("normalize: ")) from None
    return f"{mean},{std}"


# --- the backend, checkpoints and --out ------------------------------------------------------

def set_backend(name):
    try:
        backend.set_backend(name)
    except backend.BackendUnavailable as e:
        raise CLIError(str(e)) from None


def read_checkpoint(path):
    """The checkpoint at ``path``, checked from its types to its values against its model
    (``train.load_model``: another model's weights, NaN weights, a bomb are one-line errors)."""
    if not os.path.exists(path):
        raise CLIError(f"checkpoint {path} does not exist")
    try:
        _, ckpt = training.load_model(path)
    except ValueError as e:
        raise CLIError(str(e)) from None
    return ckpt


def checkpoint_classes(ckpt, path):
    """The class names of a checkpoint's model: a fine-tuned one stores them (``Sneaker``, …, or
    ``5``…``9``); a model trained by ``tinynet train`` tells MNIST's ten digits apart."""
    names = ckpt["extra"].get("class_names")
    if names is None:
        return [str(d) for d in range(10)]
    count = ckpt["extra"].get("num_classes", len(names) if isinstance(names, list) else None)
    if (not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names)
            or count != len(names)):
        raise CLIError(f"{path}: its class names are damaged (expected {count} names as text, got {names!r})")
    return names


def load_weights(model, ckpt, path):
    """Load the checkpoint's weights into ``model`` (from ``models.build``), after giving it the
    checkpoint's number of classes (a fine-tuned head); a checkpoint that does not fit is a CLIError."""
    try:
        return _load_weights(model, ckpt, path, num_classes=len(checkpoint_classes(ckpt, path)))
    except ValueError as e:
        raise CLIError(str(e)) from None


def model_from_checkpoint(ckpt, path):
    """The checkpoint's model with its weights, in eval mode."""
    from .. import models
    model = load_weights(models.build(ckpt["model_name"]), ckpt, path)
    model.eval()
    return model


def claim_out(out, resuming=None, force=False, command="tinynet train"):
    """Check ``--out`` before any work: writable, and not holding another run (see ``tinynet.run_folder``)."""
    try:
        removed = run_folder.claim(out, resuming, force, command)
    except run_folder.RunFolderError as e:
        raise CLIError(f"--out {e}") from None
    except OSError as e:
        raise CLIError(f"--out {out}: {e.strerror or e}") from None
    if removed:
        print(f"removed {len(removed)} leftover file(s) of an interrupted save from {out}/", file=sys.stderr)


def write_json(path, obj):
    """Write ``obj`` as JSON to ``path`` through a temporary file, so a failure leaves the old file."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def first_conv_filters(model, out):
    """``{"filters": PNG}`` of the first convolution's filters (and, when the next convolution reads
    its maps, that one's kernel norms), or {} for a model without a convolution."""
    from .. import nn, plots
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return {}
    fits = len(convs) > 1 and convs[1].weight.shape[1] == convs[0].weight.shape[0]
    return {"filters": plots.first_layer_filters(convs[0].weight, os.path.join(out, "filters.png"),
                                                 next_weight=convs[1].weight if fits else None)}


def has_dropout(model):
    """Whether ``model`` has a dropout layer with p > 0 (its training loss is then measured on a weakened net)."""
    from .. import nn
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())
