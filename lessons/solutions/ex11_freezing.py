"""Exercise 11 · Freezing layers for fine-tuning                          (lesson 14)

Article 001 describes fine-tuning as "freeze some or all of the lower layers and fine-tune
only the top ones" but never shows it. In tinynet, as in PyTorch, a parameter is frozen when
its ``requires_grad`` is False: backward computes no gradient for it (its ``.grad`` stays
None) and an optimizer built from the trainable parameters never touches it.

Parameters have dotted names (``model.named_parameters()``): ``conv1.weight``, ``fc2.bias``,
or ``0.weight``, ``10.bias`` inside a Sequential. A prefix selects whole name components:
"fc1" selects ``fc1.weight`` and ``fc1.bias`` but not ``fc10.weight``; "1" selects ``1.weight``
but not ``10.weight``.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex11_freezing.py
"""
EXERCISE = "freezing"


def matches(name, prefix):
    """Does the dotted parameter name start with the whole components of prefix?"""
    # TODO: "fc1" matches "fc1.weight" and "fc1" itself, not "fc10.weight"
    ### BEGIN SOLUTION
    return name == prefix or name.startswith(prefix + ".")
    ### END SOLUTION


def freeze(model, prefixes):
    """Turn requires_grad off for every parameter whose name matches one of the prefixes."""
    # TODO
    ### BEGIN SOLUTION
    for name, p in model.named_parameters():
        if any(matches(name, q) for q in prefixes):
            p.requires_grad = False
            p.grad = None
    ### END SOLUTION


def count_parameters(model, trainable_only=False):
    """The number of weights (array elements) in the model, or only in trainable parameters."""
    # TODO
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    ### END SOLUTION


def trainable_parameters(model):
    """The list of parameters an optimizer should update."""
    # TODO
    ### BEGIN SOLUTION
    return [p for p in model.parameters() if p.requires_grad]
    ### END SOLUTION


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
