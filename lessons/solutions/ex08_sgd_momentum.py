"""Exercise 08 · Stochastic gradient descent with momentum               (lesson 08)

Plain SGD moves every parameter against its gradient:   p ← p − lr · g.

Momentum keeps a running direction b per parameter ("velocity"). PyTorch's rule, which
tinynet follows (and which articles 003/004 use through ``optim.SGD(..., momentum=0.9)``):

    first step:   b ← g
    later steps:  b ← momentum · b + g
    then:         p ← p − lr · b

(Some textbooks write b ← μb + (1 − μ)g, or fold lr into b: those are different optimisers
or give different numbers when lr changes. Implement the rule above.)

Parameters are tinynet Parameters: ``p.data`` is the array, ``p.grad`` its gradient array (or
None when backward never reached it). Skip parameters with no gradient or ``requires_grad``
off; keep one buffer per parameter in ``self.state``.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex08_sgd_momentum.py
"""
EXERCISE = "sgd_momentum"


class SGD:
    def __init__(self, params, lr, momentum=0.0):
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.state = {}                    # parameter → its momentum buffer b

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        # TODO: update every parameter that has a gradient, in place (p.data -= ...)
        ### BEGIN SOLUTION
        for p in self.params:
            if p.grad is None or not p.requires_grad:
                continue
            g = p.grad
            if self.momentum:
                if p not in self.state:
                    self.state[p] = g.copy()
                else:
                    self.state[p] = self.momentum * self.state[p] + g
                g = self.state[p]
            p.data -= self.lr * g
        ### END SOLUTION


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
