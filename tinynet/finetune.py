"""Fine-tuning: reuse a trained model for a new task, training all, part or a low-rank update of it.

    model = models.cnn(); model.load_state_dict(tn.load("pre.npz")["model"])
    model[-1] = nn.Linear(128, 5)                    # a new head for 5 classes
    freeze(model, ["0", "3", "7"])                   # by name prefix: the convs and fc1
    trainable_summary(model)                         # prints what will train, layer by layer
    opt = optim.Adam(param_groups(model, head="9", lr_head=1e-3, lr_backbone=1e-4))

A frozen parameter (``requires_grad=False``) gets no gradient (``.grad`` stays None), the
optimizer skips it, and the backward pass does no work only it would need: a convolution whose
weight is frozen skips dW, and a frozen first layer on raw images records no graph at all (its
input needs no gradient either), so backward stops at the first trainable layer.

LoRA (``apply_lora``) keeps the pre-trained weights frozen and learns W + (alpha/r)·B A instead
(``tinynet.nn.lora``); ``merge_lora`` folds the update back into plain layers.

Names are the dotted names of ``model.named_parameters()``; a prefix matches whole components,
so ``"1"`` (or ``1``) selects ``"1.weight"`` and ``"1.bias"`` but not ``"10.weight"``.
"""
from . import nn
from .nn.lora import _LoRA

__all__ = ["select", "freeze", "unfreeze", "trainable_summary", "param_groups", "replace_head", "load_backbone",
           "apply_lora", "merge_lora", "lora_parameter_count", "METHODS", "prepare"]


def _matches(name, prefix):
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _as_list(names):
    return [names] if isinstance(names, (str, int)) else list(names)


def _owner_names(model):
    """Names of the modules that hold parameters themselves ("0", "3", "features.1", …)."""
    return [n for n, m in model.named_modules() if any(p is not None for p in m._parameters.values())]


def select(model, names=None):
    """``[(name, Parameter)]`` whose names start with one of the prefixes ``names`` (None: all).

    A prefix that matches no parameter is an error listing the names that would.
    """
    params = list(model.named_parameters())
    if names is None:
        return params
    chosen, seen = [], set()
    for prefix in _as_list(names):
        hits = [(n, p) for n, p in params if _matches(n, str(prefix))]
        if not hits:
            raise ValueError(f"no parameter of {type(model).__name__} is named {str(prefix)!r} or "
                             f"starts with {str(prefix) + '.'!r}; layers with parameters: "
                             f"{', '.join(_owner_names(model)) or '(none)'}")
        for n, p in hits:
            if id(p) not in seen:
                seen.add(id(p))
                chosen.append((n, p))
    return chosen


def _set_requires_grad(model, names, flag):
    chosen = select(model, names)
    for _, p in chosen:
        p.requires_grad = flag
        if not flag:
            p.grad = None
    return [n for n, _ in chosen]


def freeze(model, names=None):
    """Freeze the parameters under the prefixes ``names`` (a string or a list; None: all of them).

    Returns the names of the parameters frozen. ``freeze(model, "0")`` freezes layer 0.
    """
    return _set_requires_grad(model, names, False)


def unfreeze(model, names=None):
    """Make the parameters under the prefixes ``names`` trainable again (None: all)."""
    return _set_requires_grad(model, names, True)


def trainable_summary(model, file=None, quiet=False):
    """A table of trainable and frozen parameter counts per layer, with totals.

    Printed to ``file`` (default: standard output) unless ``quiet``, and returned as a string. LoRA layers show their
    frozen base and their trainable A and B as separate rows.
    """
    rows = []
    for name, m in model.named_modules():
        own = [p for p in m._parameters.values() if p is not None]
        if own:
            t = sum(p.numel() for p in own if p.requires_grad)
            f = sum(p.numel() for p in own if not p.requires_grad)
            rows.append((name or "(root)", type(m).__name__, t, f))
    total_t, total_f = sum(r[2] for r in rows), sum(r[3] for r in rows)
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f"{'layer':<{width}}  {'type':<12} {'trainable':>11} {'frozen':>11}"]
    lines += [f"{n:<{width}}  {k:<12} {t:>11,} {f:>11,}" for n, k, t, f in rows]
    share = 100 * total_t / max(total_t + total_f, 1)
    lines.append(f"{'total':<{width}}  {'':<12} {total_t:>11,} {total_f:>11,}")
    lines.append(f"trainable: {total_t:,} of {total_t + total_f:,} parameters ({share:.2f} %)")
    text = "\n".join(lines)
    if not quiet:
        print(text, file=file)
    return text


def param_groups(model, head, lr_head, lr_backbone):
    """Optimizer parameter groups: the head (prefixes ``head``) at ``lr_head``, every other
    trainable parameter (the backbone) at ``lr_backbone``. Frozen parameters and empty groups
    are left out.  ``optim.SGD(param_groups(model, "9", 1e-2, 1e-3), lr=1e-2, momentum=0.9)``.
    """
    head_ids = {id(p) for _, p in select(model, head)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in head_ids], "lr": lr_backbone},
              {"params": [p for p in trainable if id(p) in head_ids], "lr": lr_head}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("param_groups: the model has no trainable parameter (everything is frozen)")
    return groups


def replace_head(model, out_features):
    """Put a new, freshly initialised ``Linear(in, out_features)`` in place of the last layer of a
    Sequential (which must be a Linear) and return it."""
    last = model[-1]
    if not isinstance(last, nn.Linear):
        raise TypeError(f"replace_head: the last layer is a {type(last).__name__}, not a Linear")
    head = nn.Linear(last.in_features, out_features, bias=last.bias is not None)
    head.to(last.weight.backend)
    model[-1] = head
    return head


def load_backbone(model, state_dict, head=None):
    """Load every weight of ``state_dict`` except the head's (prefix ``head``, default: the last
    layer of a Sequential), so a model with a head of another size can reuse a trained backbone.

    Returns ``(missing_keys, unexpected_keys)``; both may hold only head keys, anything else
    (a different backbone) is an error naming the keys.
    """
    head = str(len(model) - 1) if head is None else head
    kept = {k: v for k, v in state_dict.items() if not _matches(k, head)}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    foreign = [k for k in missing if not _matches(k, head)] + unexpected
    if foreign:
        raise ValueError(f"load_backbone: the checkpoint does not fit this model's backbone: "
                         f"missing {[k for k in missing if not _matches(k, head)]}, unexpected {unexpected}")
    return missing, [k for k in state_dict if _matches(k, head)]


# --- LoRA on whole models --------------------------------------------------------------------

def _replace(model, name, new):
    """Put module ``new`` at dotted ``name`` inside ``model``, keeping the child order."""
    parent_name, _, key = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    parent._modules[key] = new            # in place: the layer keeps its position (and its name)
    object.__setattr__(new, "_name", key)


def _targets(model, targets):
    """Names of the Linear / Conv2d layers selected by ``targets`` (types, name prefixes)."""
    types = tuple(t for t in targets if isinstance(t, type))
    prefixes = [str(t) for t in targets if not isinstance(t, type)]
    inside_lora = {f"{n}.{sub}" if n else sub for n, m in model.named_modules() if isinstance(m, _LoRA)
                   for sub, _ in m.named_modules() if sub}           # a wrapped base is not wrapped again
    layers = [(n, m) for n, m in model.named_modules()
              if isinstance(m, (nn.Linear, nn.Conv2d)) and n not in inside_lora]
    for p in prefixes:
        if not any(_matches(n, p) for n, _ in layers):
            raise ValueError(f"apply_lora: no Linear or Conv2d layer is named {p!r} or lies inside it; "
                             f"candidates: {', '.join(n for n, _ in layers) or '(none)'}")
    return [n for n, m in layers if (types and isinstance(m, types)) or any(_matches(n, p) for p in prefixes)]


def apply_lora(model, rank=4, alpha=None, targets=(nn.Linear, nn.Conv2d)):
    """Wrap the target layers of ``model`` in ``LoRALinear`` / ``LoRAConv2d``, in place.

    ``targets``: layer types and/or name prefixes (``["0", "3", nn.Linear]``). The wrapped base
    layers are frozen; the rest of the model is left as it is (freeze it first with ``freeze``).
    Returns the names of the wrapped layers. ``alpha`` defaults to ``rank`` (scaling 1).
    """
    targets = _as_list(targets) if not isinstance(targets, type) else [targets]
    names = _targets(model, targets)
    if not names:
        raise ValueError(f"apply_lora: no layer of {type(model).__name__} matches targets {targets!r}")
    if "" in names:
        raise ValueError("apply_lora: the model is itself a layer; wrap it directly with nn.LoRALinear / nn.LoRAConv2d")
    modules = dict(model.named_modules())
    for n in names:                              # a rank above a layer's smaller side adds nothing but memory
        w = modules[n].weight
        side = min(w.shape[0], w.numel() // max(w.shape[0], 1))
        if isinstance(rank, int) and not isinstance(rank, bool) and rank > side:
            raise ValueError(f"apply_lora: rank {rank} is larger than layer {n}'s smaller side ({side}); "
                             f"use a rank of at most {side}")
    for n in names:
        base = modules[n]
        wrap = nn.LoRALinear if isinstance(base, nn.Linear) else nn.LoRAConv2d
        _replace(model, n, wrap(base, rank, alpha))
    return names


def merge_lora(model):
    """Replace every LoRA layer of ``model`` by its base layer with the update folded in
    (W ← W + (alpha/r)·B A), in place; returns the model (or the merged layer, if ``model`` is a
    LoRA layer). The merged layers are trainable plain layers, with the keys of the original model."""
    if isinstance(model, _LoRA):
        return model.merge()
    for n in [n for n, m in model.named_modules() if isinstance(m, _LoRA)]:
        layer = dict(model.named_modules()).get(n)
        if layer is not None:              # a LoRA layer nested in a merged one is already gone
            _replace(model, n, layer.merge())
    return model


def lora_parameter_count(model):
    """Number of LoRA parameters (all A and B matrices) in ``model``."""
    return sum(m.num_lora_parameters() for m in model.modules() if isinstance(m, _LoRA))


# --- the four ways to train for a new task -----------------------------------------------------

METHODS = {
    "scratch": "fresh random weights, everything trained",
    "full": "pre-trained weights, new head, everything trained",
    "head": "pre-trained weights frozen, only a new head trained (a linear probe)",
    "lora": "pre-trained weights frozen, LoRA updates on every other Conv2d/Linear, new head trained",
}


def prepare(model, method, num_classes, rank=4, alpha=None):
    """Set up a Sequential ``model`` (pre-trained weights already loaded, except for ``scratch``)
    for ``method`` (see ``METHODS``) with a new ``num_classes``-way head, in place.

    Returns the head's name (the prefix for ``param_groups``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown fine-tuning method {method!r}; choose one of: {', '.join(METHODS)}")
    head = str(len(model) - 1)
    if method in ("head", "lora"):
        freeze(model)
    if method == "lora":
        body = [n for n, m in model.named_children() if n != head and isinstance(m, (nn.Linear, nn.Conv2d))]
        apply_lora(model, rank, alpha, targets=body)
    replace_head(model, num_classes)
    return head
