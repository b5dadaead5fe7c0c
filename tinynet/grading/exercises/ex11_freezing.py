"""Exercise 11 · freezing layers (lessons/exercises/ex11_freezing.py).

A parameter is frozen when requires_grad is False: it gets no gradient, and the optimizer, given
only the trainable parameters, leaves it bit-identical.
"""
from types import SimpleNamespace

import numpy as np

from ... import finetune
from ... import functional as F
from ... import nn, optim
from ...tensor import Tensor
from ..compare import Failed
from ..own import defined_in
from ..probes import get
from ..registry import exercise


def reference():
    return SimpleNamespace(
        matches=lambda name, prefix: name == prefix or name.startswith(prefix + "."),
        freeze=finetune.freeze,
        count_parameters=lambda model, trainable_only=False: model.num_parameters(trainable_only=trainable_only),
        trainable_parameters=lambda model: [p for p in model.parameters() if p.requires_grad])


ex = exercise(11, "freezing", "freezing layers", reference=reference,
              forbidden=lambda: defined_in(finetune) + [nn.Module.num_parameters])
HINT = ("A parameter is frozen when its requires_grad is False; count with p.numel(); an optimizer must be "
        "given only the parameters that still require gradients.")


class ArticleCNN(nn.Module):
    """Articles 003/004's padded CNN (421,642 parameters)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


MATCH_CASES = [("fc1.weight", "fc1"), ("fc10.weight", "fc1"), ("1.weight", "1"), ("10.bias", "1"),
               ("features.0.weight", "features"), ("features.0.weight", "features.0"),
               ("features.01.weight", "features.0"), ("fc1", "fc1")]


def _match_inputs(rng):
    """The cases above, and as many drawn anew each run: a layer k against prefixes that are, or are
    not, whole components of its name."""
    cases = list(MATCH_CASES)
    for _ in range(8):
        layer, k = str(rng.choice(["fc", "conv", "layer", ""])), int(rng.integers(1, 10))
        name = f"{layer}{k}{int(rng.integers(0, 10))}.{rng.choice(['weight', 'bias'])}" if rng.random() < 0.5 \
            else f"block.{layer}{k}.{rng.choice(['weight', 'bias'])}"
        prefix = f"{layer}{k}" if not name.startswith("block.") else str(rng.choice(["block", f"block.{layer}{k}", "blo"]))
        cases.append((name, prefix))
    return {"cases": cases}


def _judge_matches(got, ref, inputs):
    answers = got.get("answers") if isinstance(got.get("answers"), list) else [None] * len(ref["answers"])
    for (name, prefix), g, want in zip(inputs["cases"], answers, ref["answers"]):
        if g is not want:
            raise Failed(f"matches({name!r}, {prefix!r}) returned {g!r}, expected {want}.")


@ex.part("matches(): whole name components", "Compare whole dot-separated components: 'fc1' is a prefix of "
         "'fc10.weight' as a string, but not as a name.", inputs=_match_inputs, uses=["matches"], judge=_judge_matches)
def matches(mod, inp):
    return {"answers": [bool(get(mod, "matches")(name, prefix)) for name, prefix in inp["cases"]]}


def _judge_counts(got, ref, inputs):
    for key, model in (("cnn", "the articles' CNN"), ("mlp", f"a Sequential of Linear layers {inputs['sizes']}")):
        g, want = got.get(key) if isinstance(got.get(key), dict) else {}, ref[key]
        frozen = inputs["frozen"] if key == "mlp" else ["conv1", "conv2"]
        if g.get("all") != want["all"]:
            raise Failed(f"count_parameters(model) = {g.get('all')!r} for {model}, expected {want['all']:,}.")
        if g.get("trainable") != want["trainable"]:
            raise Failed(f"after freeze({frozen}) of {model}: {g.get('trainable')!r} trainable, "
                         f"expected {want['trainable']:,}.")
        if g.get("frozen") != want["frozen"]:
            raise Failed(f"after freeze({frozen}) of {model} the frozen parameters are {g.get('frozen')}, "
                         f"expected {want['frozen']}.")


def _count_inputs(rng):
    sizes = [int(n) for n in rng.integers(2, 40, int(rng.integers(3, 6)))]
    return {"sizes": sizes, "frozen": [str(i) for i in sorted(rng.choice(len(sizes) - 1, 2, replace=False))]}


def _count(mod, model, frozen):
    count = get(mod, "count_parameters")
    values = {"all": count(model)}
    get(mod, "freeze")(model, frozen)
    return {**values, "trainable": count(model, trainable_only=True),
            "frozen": sorted(n for n, p in model.named_parameters() if not p.requires_grad)}


@ex.part("the articles' CNN: 421,642 weights; 402,826 trainable with conv1 and conv2 frozen; a random model too",
         HINT, inputs=_count_inputs, uses=["matches", "freeze", "count_parameters"], judge=_judge_counts)
def counts(mod, inp):
    sizes = inp["sizes"]
    mlp = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
    return {"cnn": _count(mod, ArticleCNN(), ["conv1", "conv2"]), "mlp": _count(mod, mlp, inp["frozen"])}


def _judge_sequential(got, ref, inputs):
    if got.get("frozen") != ref["frozen"]:
        raise Failed(f"after freeze({inputs['prefixes']}): frozen parameters {got.get('frozen')}, "
                     f"expected {', '.join(ref['frozen'])}.")


@ex.part("freeze() in a Sequential: '1' freezes layer 1, not 10 or 11", HINT,
         inputs=lambda rng: {"prefixes": ["1", str(int(rng.integers(2, 10)))]},
         uses=["matches", "freeze"], judge=_judge_sequential)
def sequential(mod, inp):
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(12)])
    get(mod, "freeze")(model, inp["prefixes"])
    return {"frozen": sorted(n for n, p in model.named_parameters() if not p.requires_grad)}


def _judge_training(got, ref, inputs):
    for name in got.get("frozen changed") or []:
        raise Failed(f"the frozen {name}.")
    if got.get("frozen changed") is None or got.get("head changed") is not True:
        raise Failed("fc1 and fc2 did not change: the optimizer got no trainable parameters.")


@ex.part("training: frozen weights stay bit-identical and get no gradient", HINT,
         inputs=lambda rng: {"x": rng.standard_normal((4, 1, 28, 28)).astype("float32"), "t": rng.integers(0, 10, 4)},
         uses=["matches", "freeze", "trainable_parameters"], judge=_judge_training)
def training(mod, inp):
    model = ArticleCNN()
    get(mod, "freeze")(model, ["conv1", "conv2"])
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    opt = optim.SGD(get(mod, "trainable_parameters")(model), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(inp["x"])), inp["t"]).backward()
        opt.step()
    params = dict(model.named_parameters())
    changed = [f"{n} {'got a gradient' if params[n].grad is not None else 'changed'}" for n in before
               if n.startswith("conv") and (params[n].grad is not None or not np.array_equal(params[n].data, before[n]))]
    head = any(not np.array_equal(params[n].data, before[n]) for n in before if n.startswith("fc"))
    return {"frozen changed": changed, "head changed": head}
