"""Reading a training checkpoint from a file nobody vouches for: every part checked, one clear error.

A checkpoint (``train.save_checkpoint``) is the tree::

    {"format": "tinynet-checkpoint-1", "model_name": "cnn", "epoch": 2,
     "model": {"0.weight": array, ...},                     # the state dict
     "optimizer": {"state": {0: {...}}, "param_groups": [...]} or absent,
     "history": JSON text of a list of per-epoch dicts, "args": JSON of the run's settings,
     "rng": JSON of the generator state, "extra": JSON of anything else}

``load_checkpoint(path, model)`` checks it in three steps, each before the next reads more:

1. the tree's types (``tinynet.load`` has read only the .npy headers so far): each entry has the
   type above, ``epoch`` is a whole number ≥ 0, the settings have their types and known values;
2. the arrays against the model they must fit: the same keys, shapes and kinds of dtype, and
   all arrays together at most ``BUDGET_FACTOR`` times the model's size at float64 plus 1 MiB
   (the model, and two optimizer moments per weight) — so a file that would inflate to
   gigabytes is refused before it is read;
3. the values, once read: every weight and optimizer state finite (no NaN or ∞, which a diverged
   run leaves behind).

Any problem raises ``CheckpointError`` (a ``ValueError``) whose one-line message names the file.
"""
import json
import math

from . import backend, models, random
from .parallel import MAX_WORKERS
from .recipes import FLOAT32_MAX, RECIPES, normalize_values
from .serialization import CheckpointError, StoredArray, load

__all__ = ["load_checkpoint", "load_model", "build_model", "CHECKPOINT_FORMAT", "BUDGET_FACTOR"]

CHECKPOINT_FORMAT = "tinynet-checkpoint-1"
BUDGET_FACTOR = 3             # a checkpoint holds the model and at most two optimizer moments per weight
_SLACK = 1 << 20              # plus 1 MiB for scalars and the tree itself

JSON_ENTRIES = {"history": list, "args": dict, "rng": dict, "extra": dict}
SETTINGS = {  # run setting -> (type(s), the values it may take or a test, what to say)
    "model": (str, models.MODELS, "a model name"),
    "recipe": ((str, type(None)), lambda v: v is None or v in RECIPES, "a recipe name or null"),
    "optimizer": (str, ("adam", "sgd"), "adam or sgd"),
    "schedule": (str, ("none", "cosine"), "none or cosine"),
    "backend": (str, ("numpy", "cupy"), "numpy or cupy"),
    "lr": ((int, float), lambda v: 0 < v < math.inf, "a positive number"),
    "adam_eps": ((int, float), lambda v: 0 < v < math.inf, "a positive number"),
    "momentum": ((int, float), lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "batch_size": (int, lambda v: v >= 1, "a positive whole number"),
    "epochs": (int, lambda v: v >= 1, "a positive whole number"),
    "limit": ((int, type(None)), lambda v: v is None or v >= 1, "a positive whole number or null"),
    "seed": (int, lambda v: True, "a whole number"),
    "augment": (bool, lambda v: True, "true or false"),
    "workers": ((int, type(None)), lambda v: v is None or 1 <= v <= MAX_WORKERS,
                f"a whole number from 1 to {MAX_WORKERS} or null"),
    "normalize": (str, lambda v: _normalization(v) is not None, "mnist, half, none or MEAN,STD"),
}


def _normalization(text):
    """``text`` if it is a ``normalize`` setting ``recipes.normalize_values`` accepts; else None."""
    try:
        normalize_values(text)
    except (ValueError, TypeError):
        return None
    return text


# --- step 1: the tree's types ------------------------------------------------------------------

def _kind(value):
    """How a message names a stored value's type."""
    return "an array" if isinstance(value, StoredArray) else f"a {type(value).__name__} ({str(value)[:40]!r})"


_NAMES = {str: "a string", int: "a whole number", dict: "a dict"}


def check_tree(tree, path):
    """The checkpoint dict with its JSON entries parsed, once every entry has the right type."""
    def refuse(problem):
        return CheckpointError(f"{path}: {problem}")

    if not isinstance(tree, dict) or tree.get("format") != CHECKPOINT_FORMAT:
        raise refuse(f"not a tinynet training checkpoint (no {CHECKPOINT_FORMAT!r} marker)")
    ckpt = dict(tree)
    for key, wanted in (("model_name", str), ("epoch", int), ("model", dict)):
        if key not in ckpt:
            raise refuse(f"the checkpoint has no {key!r} entry")
        if not isinstance(ckpt[key], wanted) or isinstance(ckpt[key], bool):
            raise refuse(f"the checkpoint's {key!r} should be {_NAMES[wanted]}, not {_kind(ckpt[key])}")
    if ckpt["epoch"] < 0:
        raise refuse(f"the checkpoint's 'epoch' is {ckpt['epoch']}, not a count of epochs")
    for key, value in ckpt["model"].items():
        if not isinstance(key, str) or not isinstance(value, StoredArray):
            raise refuse(f"the checkpoint's 'model' should map weight names to arrays; it maps {key!r} to "
                         f"{_kind(value)}")
    for key, wanted in JSON_ENTRIES.items():
        ckpt[key] = _json_entry(ckpt.get(key, json.dumps(wanted())), key, wanted, refuse)
    _check_history(ckpt["history"], ckpt["epoch"], refuse)
    _check_settings(ckpt["args"], ckpt["model_name"], refuse)
    _check_rng(ckpt["rng"], refuse)
    _check_extra(ckpt["extra"], ckpt["epoch"], refuse)
    ckpt["optimizer"] = _check_optimizer(ckpt.get("optimizer"), refuse)
    _check_optimizer_kind(ckpt["optimizer"], ckpt["args"].get("optimizer"), refuse)
    return ckpt


def _json_entry(text, key, wanted, refuse):
    if not isinstance(text, str):
        raise refuse(f"the checkpoint's {key!r} should be JSON text, not {_kind(text)}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise refuse(f"the checkpoint's {key!r} is not readable JSON ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(value, wanted):
        raise refuse(f"the checkpoint's {key!r} should hold a JSON {'list' if wanted is list else 'object'}, "
                     f"not {_kind(value)}")
    return value


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_setting(value):
    """An optimizer setting: a number, bool, str or None, or a list or tuple of numbers (betas)."""
    if isinstance(value, (list, tuple)) and not isinstance(value, StoredArray):
        return all(_is_number(v) for v in value)
    return _is_number(value) or isinstance(value, (bool, str, type(None)))


def _check_history(history, epochs, refuse):
    """One dict of numbers per epoch, numbered 1, 2, … up to the checkpoint's ``epoch`` at most."""
    last = 0
    for i, record in enumerate(history):
        if not isinstance(record, dict) or not isinstance(record.get("epoch"), int) or isinstance(record["epoch"], bool):
            raise refuse(f"the checkpoint's history entry {i} should be a dict with a whole-number 'epoch', "
                         f"not {_kind(record)}")
        if not last < record["epoch"] <= epochs:
            raise refuse(f"the checkpoint's history entry {i} is for epoch {record['epoch']}, but the checkpoint "
                         f"has {epochs} epochs and the entry before it is for epoch {last}")
        last = record["epoch"]
        for key, value in record.items():
            if key != "epoch" and not (_is_number(value) or value is None):
                raise refuse(f"the checkpoint's history entry {i} has {key!r} = {_kind(value)}, not a number")


def _check_settings(args, model_name, refuse):
    for key, (types, allowed, say) in SETTINGS.items():
        if key not in args:
            continue
        value = args[key]
        ok = isinstance(value, types) and (isinstance(value, bool) == (types is bool))
        ok = ok and (allowed(value) if callable(allowed) else value in allowed)
        if not ok:
            raise refuse(f"the checkpoint's setting {key!r} is {value!r}, not {say}")
    if args.get("model", model_name) != model_name:
        raise refuse(f"the checkpoint's settings name the model {args['model']!r}, its weights are "
                     f"{model_name!r}")


def _check_rng(state, refuse):
    if not state:
        return
    try:
        type(random.generator().bit_generator)().state = state     # a fresh generator takes it, or says why not
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise refuse(f"the checkpoint's random-generator state 'rng' is not valid ({type(e).__name__}: "
                     f"{str(e)[:80]})") from None


def _whole(v, low=0, high=2 ** 53):
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _finite(v, low=0.0):
    return _is_number(v) and math.isfinite(v) and low <= v < FLOAT32_MAX


# extra entry -> (test, what it should be); ``tinynet finetune`` and Ctrl-C write these
EXTRA = {
    "task": (lambda v: isinstance(v, str) and v in _tasks(), "a task name"),
    "method": (lambda v: isinstance(v, str) and v in _methods(), "a fine-tuning method"),
    "class_names": (lambda v: isinstance(v, list) and 1 <= len(v) <= 100_000 and all(isinstance(n, str) for n in v),
                    "a list of class names"),
    "num_classes": (lambda v: _whole(v, 1, 100_000), "a positive whole number"),
    "interrupted": (lambda v: isinstance(v, bool), "true or false"),
}
POSITION = {"epoch": lambda v: _whole(v, 1), "step": _whole, "correct": _whole, "seen": _whole,
            "loss_sum": _finite, "seconds": _finite}


def _tasks():
    from .tasks import TASKS
    return TASKS


def _methods():
    from .finetune import METHODS
    return METHODS


def _check_extra(extra, epochs, refuse):
    """The entries tinynet itself writes in ``extra`` have their types, and agree with each other."""
    for key, (ok, say) in EXTRA.items():
        if key in extra and not ok(extra[key]):
            raise refuse(f"the checkpoint's extra[{key!r}] is {str(extra[key])[:60]!r}, not {say}")
    names, count, task = extra.get("class_names"), extra.get("num_classes"), extra.get("task")
    if names is not None and count is not None and len(names) != count:
        raise refuse(f"the checkpoint names {len(names)} classes but says it has {count}")
    if task is not None:
        from .tasks import class_names
        want = len(class_names(task)) if task != "fashion" else 10
        if (count if count is not None else len(names or []) or want) != want:
            raise refuse(f"the checkpoint's task {task!r} has {want} classes, but its head has "
                         f"{count if count is not None else len(names)}")
    position = extra.get("position")
    if position is not None:
        bad = [k for k, ok in POSITION.items() if not ok(position.get(k))] if isinstance(position, dict) else ["all"]
        if bad or set(position) - set(POSITION) or position["correct"] > position["seen"] \
                or position["epoch"] != epochs + 1:
            raise refuse(f"the checkpoint's position within epoch {epochs + 1} is damaged "
                         f"({', '.join(bad) or 'its counts'}: {str(position)[:80]})")


def _check_optimizer(opt, refuse):
    """None, or {"state": {int: {str: array or number}}, "param_groups": [{"params": [int], ...}]}."""
    if opt is None:
        return None

    def bad(what):
        return refuse(f"the checkpoint's optimizer state is malformed: {what}")

    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict) or not isinstance(
            opt.get("param_groups"), list):
        raise bad(f"expected a dict with 'state' and 'param_groups', got {_kind(opt)}")
    for index, entry in opt["state"].items():
        if not isinstance(index, int) or not isinstance(entry, dict):
            raise bad(f"state {index!r} should be a dict under a parameter number, got {_kind(entry)}")
        for name, value in entry.items():
            if not isinstance(value, StoredArray) and not _is_number(value):
                raise bad(f"state {index}/{name} is {_kind(value)}, not an array or a number")
            if name == "step" and not (_whole(value) or isinstance(value, StoredArray)):
                raise bad(f"state {index}/step is {str(value)[:40]}, not a count of steps")
            if _is_number(value) and not math.isfinite(value):
                raise bad(f"state {index}/{name} is {value}")
    for i, group in enumerate(opt["param_groups"]):
        params = group.get("params") if isinstance(group, dict) else None
        if not isinstance(params, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in params):
            raise bad(f"parameter group {i} should list parameter numbers under 'params', got {_kind(group)}")
        for key, value in group.items():
            if key != "params" and not _is_setting(value):
                raise bad(f"parameter group {i} has {key!r} = {_kind(value)}")
            test = GROUP_SETTINGS.get(key)
            if test is not None and not test[0](value):
                raise bad(f"parameter group {i} has {key!r} = {str(value)[:40]}, not {test[1]}")
    return opt


GROUP_SETTINGS = {   # an optimizer's settings, as PyTorch checks them
    "lr": (lambda v: _finite(v), "a number ≥ 0"),              # a cosine schedule ends at 0
    "initial_lr": (lambda v: _finite(v), "a number ≥ 0"),
    "momentum": (lambda v: _finite(v) and v < 1, "a number in [0, 1)"),
    "dampening": (lambda v: _finite(v) and v <= 1, "a number in [0, 1]"),
    "weight_decay": (lambda v: _finite(v), "a number ≥ 0"),
    "eps": (lambda v: _finite(v), "a number ≥ 0"),
    "betas": (lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(_finite(b) and b < 1 for b in v),
              "two numbers in [0, 1)"),
}
STATE_NAMES = {"adam": {"step", "exp_avg", "exp_avg_sq"}, "sgd": {"momentum_buffer"}}


def _check_optimizer_kind(opt, name, refuse):
    """The optimizer state holds what the named optimizer keeps (Adam's moments are not SGD's buffer)."""
    if opt is None or name not in STATE_NAMES:
        return
    found = {key for entry in opt["state"].values() for key in entry}
    if not found <= STATE_NAMES[name]:
        raise refuse(f"the checkpoint's optimizer state holds {sorted(found - STATE_NAMES[name])}, which "
                     f"--optimizer {name} does not keep (the state of another optimizer?)")


# --- step 2: the arrays against the model --------------------------------------------------------

def check_against(ckpt, model, path):
    """Refuse, from the headers alone, weights that do not fit ``model``: other keys, other
    shapes, another kind of dtype, or more bytes in all than the model can need."""
    expected, stored, name = model.state_dict(), ckpt["model"], ckpt["model_name"]

    def misfit(problem):
        return CheckpointError(f"{path} says it holds a {name!r} model, but its weights do not fit "
                               f"models.{name}() (a checkpoint of another model?): {problem}")

    missing = [k for k in expected if k not in stored]
    unexpected = [k for k in stored if k not in expected]
    if missing or unexpected:
        parts = [f"{what} key(s) {', '.join(map(repr, keys[:4]))}{' ...' if len(keys) > 4 else ''}"
                 for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        raise misfit("; ".join(parts))
    for key, target in expected.items():
        s = stored[key]
        if s.shape != target.shape:
            raise misfit(f"size mismatch for {key!r}: the file has shape {s.shape}, the model needs {target.shape}")
        if (s.dtype.kind == "f") != (target.dtype.kind == "f") or s.dtype.kind == "c":
            raise misfit(f"{key!r} is stored as {s.dtype}, the model's is {target.dtype}")
    budget = BUDGET_FACTOR * 8 * sum(t.numel() for t in expected.values()) + _SLACK
    total = sum(a.nbytes for a in _arrays(ckpt))
    if total > budget:
        raise CheckpointError(f"{path}: holds {total:,} bytes of arrays, more than a checkpoint of "
                              f"models.{ckpt['model_name']}() can need ({budget:,})")


def _arrays(node):
    """Every StoredArray in a tree."""
    if isinstance(node, StoredArray):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _arrays(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _arrays(v)


# --- step 3: the values ------------------------------------------------------------------------

def check_finite(ckpt, path):
    """Refuse weights or optimizer state holding NaN or ∞: what a diverged run saves."""
    xp = backend.get_module("numpy")
    for where, tree in (("weight", ckpt["model"]), ("optimizer state", ckpt["optimizer"] or {})):
        for name, t in _named_tensors(tree):
            a = backend.to_numpy(t.data)
            if a.dtype.kind in "fc" and not xp.isfinite(a).all():
                bad = int(a.size - xp.isfinite(a).sum())
                raise CheckpointError(f"{path}: {where} {name!r} holds {bad:,} NaN or infinite value(s) of "
                                      f"{a.size:,}: the run that saved it had diverged, its weights are unusable")


def _named_tensors(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _named_tensors(v, f"{prefix}{k}" if not prefix else f"{prefix}/{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _named_tensors(v, f"{prefix}/{i}")
    elif hasattr(tree, "data") and backend.is_array(tree.data):
        yield prefix, tree


# --- the two entry points ----------------------------------------------------------------------

def build_model(ckpt):
    """A fresh ``models.build(ckpt["model_name"])`` with the checkpoint's number of classes (a model
    fine-tuned by ``tinynet finetune`` stores ``extra["num_classes"]``); CheckpointError for a name
    tinynet does not know or a damaged class count."""
    if ckpt["model_name"] not in models.MODELS:
        raise CheckpointError(f"holds a model called {ckpt['model_name']!r}, which tinynet does not know "
                              f"(known: {', '.join(models.MODELS)})")
    model = models.build(ckpt["model_name"])
    extra = ckpt.get("extra")
    classes = extra.get("num_classes") if isinstance(extra, dict) else None
    if classes is not None:
        if not (type(classes) is int and 1 <= classes <= 100_000):
            raise CheckpointError(f"its number of classes is damaged (extra['num_classes'] = {classes!r})")
        if getattr(model[-1], "out_features", classes) != classes:
            from .finetune import replace_head
            replace_head(model, classes)
    return model


def load_checkpoint(path, model=None):
    """Read a checkpoint written by ``save_checkpoint``: a dict with ``model`` (a state dict),
    ``optimizer`` (or None), ``epoch``, ``model_name``, ``history``, ``args``, ``rng``, ``extra``.

    ``model``: a Module, or a function of the checkpoint (everything but the arrays) that builds
    one (``build_model``). When given, the stored weights are checked against it before they are
    read, and loaded into it. Raises FileNotFoundError, or CheckpointError (a ValueError) whose
    one-line message names the file and the problem (see the module docstring).
    """
    return _read(path, model)[0]


def load_model(path, build=build_model):
    """``(model, checkpoint)``: the model a checkpoint holds (``build(checkpoint)``, by default
    ``models.build`` of its name), its weights checked and loaded, in eval mode."""
    ckpt, model = _read(path, build)
    return model.eval(), ckpt


def _read(path, model):
    """(checkpoint, the model it was loaded into or None): the three steps of the module docstring."""
    path = str(path)
    checked = {}

    def check(tree):                          # steps 1 and 2, on the headers alone
        checked.update(check_tree(tree, path))
        if model is not None:
            try:
                checked["built"] = model if hasattr(model, "state_dict") else model(dict(checked))
            except CheckpointError as e:
                raise CheckpointError(f"{path}: {e}") from None
            check_against(checked, checked["built"], path)

    tree = load(path, check)
    ckpt = dict(tree, **{key: checked[key] for key in JSON_ENTRIES})
    ckpt.setdefault("optimizer", None)
    check_finite(ckpt, path)                  # step 3, on the values
    built = checked.get("built")
    if built is not None:
        built.load_state_dict(ckpt["model"])  # cannot fail: keys, shapes and dtypes were checked
    return ckpt, built
