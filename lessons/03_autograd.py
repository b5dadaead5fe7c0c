# %% [markdown]
# # Lesson 03 · Tensors, the backward pass, and checking gradients
# Every article says "loss.backward()" and moves on. Here we look at what it computes: the
# chain rule, applied by each operation's `backward`, checked against finite differences.
# Then the two building blocks the articles write as formulas: ReLU (001 §4.1) and the fully
# connected layer Y = W·X + b (002 §4.3).

# %%
from _common import lesson, say, check, claim, savefig, savegraph, finish   # first: paths, and one BLAS thread
import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.viz import graph_nodes

args = lesson(3, "Tensors, the backward pass, and checking gradients")
tn.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A graph is recorded as you compute

# %%
say("""
    1. y = x² + 3x at x = 2. Calculus says dy/dx = 2x + 3 = 7. tinynet records each operation
       (its grad_fn) while computing y; y.backward() walks those records in reverse.
""")
x = tn.tensor(2.0, requires_grad=True)
y = x * x + 3 * x
print(f"  y = {y.item()}, made by {type(y.grad_fn).__name__}, whose inputs were made by "
      f"{[type(t.grad_fn).__name__ for t in y.grad_fn.inputs]}")
y.backward(retain_graph=True)            # keep the records after backward, to draw them below
check("x.grad after y.backward() is 2x + 3 = 7", x.grad == 7.0, f"x.grad = {float(x.grad)}")

say("""
    The records drawn (tinynet.viz.draw_graph): boxes are operations, ovals tensors. x feeds the
    first Mul twice (x · x) and the second once (3 · x); the constant 3 needs no gradient, so its
    arrow is dashed. backward walks these arrows upwards: 2x from the first Mul, 3 from the
    second, summed in x.grad = 7, written in x's oval.
""")
nodes, edges = graph_nodes(y, {"x": x}, grads=True)
check("the graph of y: three operations (Mul, Mul, Add) and x, each drawn once",
      [n["lines"][0] for n in nodes if n["kind"] == "op"] == ["Mul", "Mul", "Add"]
      and [n["lines"][0] for n in nodes].count("x") == 1)
check("x's oval carries its gradient's size, ‖grad‖ = 7", ["x", "scalar float32", "‖grad‖ = 7"] in [n["lines"] for n in nodes])
savegraph(y, "graph_x2_plus_3x", {"x": x}, grads=True)

# %% [markdown]
# ## 2. Finite differences: the independent check
# (f(x+ε) − f(x−ε)) / 2ε approaches f'(x) with error O(ε²) — until round-off, which grows like
# 1/ε, takes over. `tn.numerical_grad` and `tn.gradcheck` use it in float64.

# %%
say("""
    2. Central differences for f(x) = Σ tanh(x)·x on a random vector, at many step sizes ε.
""")
xv = tn.tensor(rng.standard_normal(5), requires_grad=True, dtype="float64")
f = lambda t: (tn.tanh(t) * t).sum()  # noqa: E731
f(xv).backward()
analytic = xv.grad.copy()
epsilons = np.logspace(-12, -1, 23)
errors = [np.abs(tn.numerical_grad(f, xv, eps=e) - analytic).max() for e in epsilons]
best = epsilons[int(np.argmin(errors))]
print(f"  smallest error {min(errors):.1e} at ε = {best:.0e}; at ε = 1e-1 it is {errors[-1]:.1e}, at 1e-12 {errors[0]:.1e}")
check("the best step is in the middle (truncation error left, round-off right)", 1e-8 < best < 1e-3,
      f"ε* = {best:.0e}")
check("backward agrees with finite differences to 1e-8", min(errors) < 1e-8, f"{min(errors):.1e}")

import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(5, 3.4))
ax.loglog(epsilons, errors, "o-")
ax.set_xlabel("step ε"), ax.set_ylabel("max |numerical − backward|")
ax.set_title("central differences in float64: O(ε²) vs round-off")
savefig(fig, "finite_difference_error")

# %% [markdown]
# ## 3. ReLU: output = max(0, input)

# %%
say("""
    3. ReLU (article 001 §4.1): forward max(0, x); backward passes the gradient where x > 0
       and blocks it where x < 0. At exactly 0 the derivative is undefined; tinynet, like
       PyTorch, uses 0 there, so finite-difference checks keep away from 0.
""")
z = rng.standard_normal((4, 6))
z[np.abs(z) < 0.05] = 0.5                              # keep away from the kink
zt = tn.tensor(z, requires_grad=True)
r = F.relu(zt)
g = rng.standard_normal(z.shape)
r.backward(g)
check("forward: relu(z) = max(0, z) element by element", np.array_equal(r.numpy(), np.maximum(0, z)))
check("backward: dL/dz = dL/dy · 1[z > 0]", np.array_equal(zt.grad, g * (z > 0)))
check("gradcheck on ReLU away from 0", tn.gradcheck(F.relu, tn.tensor(z, requires_grad=True)))
check("ReLU at exactly 0: gradient 0 (PyTorch's convention)",
      (lambda t: (F.relu(t).sum().backward(), t.grad)[1])(tn.tensor([0.0], requires_grad=True))[0] == 0)


@claim("A23")
def _():
    article = np.maximum(0, z)                          # the article's formula, in NumPy
    reference = z * (z > 0)                             # a ReLU layer's definition, written another way
    err = float(np.abs(article - reference).max())
    return dict(err=err), (f"max(0, x) = x·1[x>0] on 24 values (max diff {err:.0e}); tinynet's relu is checked "
                           "against it separately above (forward, backward mask 1[x>0], gradcheck)")


say("""
    Sigmoid, the older activation: σ(x) = 1 / (1 + e^−x), σ' = σ(1 − σ). Its derivative is at
    most 0.25, so gradients shrink through every sigmoid layer; ReLU's is 1 where it is active.
""")
s = tn.tensor(np.linspace(-6, 6, 13), requires_grad=True, dtype="float64")
F.sigmoid(s).sum().backward()
check("sigmoid gradcheck", tn.gradcheck(F.sigmoid, tn.tensor(rng.standard_normal(10), requires_grad=True)))
check("σ'(x) ≤ 0.25 everywhere, = 0.25 at 0", np.isclose(s.grad.max(), 0.25) and s.grad.argmax() == 6,
      f"max {s.grad.max():.4f}")
check("sigmoid(−1000) and sigmoid(1000) do not overflow", np.isfinite(F.sigmoid(tn.tensor([-1000.0, 1000.0])).numpy()).all())

fig, ax = plt.subplots(figsize=(6, 3))
xs = tn.tensor(np.linspace(-4, 4, 401), requires_grad=True, dtype="float64")
for name, fn in [("relu", F.relu), ("sigmoid", F.sigmoid)]:
    xs.grad = None
    out = fn(xs)
    out.sum().backward()
    ax.plot(xs.numpy(), out.numpy(), label=name)
    ax.plot(xs.numpy(), xs.grad, "--", label=f"{name}' (from backward)")
ax.legend(), ax.grid(alpha=0.3), ax.set_title("activations and the derivatives backward computes")
savefig(fig, "activations")

# %% [markdown]
# ## 4. The fully connected layer: Y = W·X + b

# %%
say("""
    4. Article 002 writes the fully connected layer as Y = W·X + b for one column vector X.
       With a batch of row vectors (N, in), as frameworks store it, this is Y = X Wᵀ + b with
       W of shape (out, in): PyTorch's and tinynet's layout (Keras stores the transpose).
""")
layer = nn.Linear(6, 3)
X = tn.tensor(rng.standard_normal((4, 6)).astype(np.float32))
W, b = layer.weight.numpy(), layer.bias.numpy()
Y = layer(X).numpy()
single = W @ X.numpy()[0] + b                              # the article's form, one sample
check("nn.Linear(X) = X Wᵀ + b", np.allclose(Y, X.numpy() @ W.T + b, atol=1e-6))
check("row 0 equals the article's W·x + b for that single sample", np.allclose(Y[0], single, atol=1e-6))
check("gradcheck of F.linear with respect to X, W and b", tn.gradcheck(
    F.linear, tn.tensor(rng.standard_normal((4, 6)), requires_grad=True),
    tn.tensor(rng.standard_normal((3, 6)), requires_grad=True), tn.tensor(rng.standard_normal(3), requires_grad=True)))
layer.zero_grad()
out = layer(X).sum()
out.backward(retain_graph=True)
say("""
    The graph of sum(Linear(X)): one Linear operation with three inputs — the data X (white: no
    gradient is asked for it) and the two parameters, named as the layer names them and blue
    because they train; after backward each shows the size of its gradient. Here ∂sum/∂b = N = 4
    for each of the 3 outputs, so ‖∂/∂b‖ = 4·√3 ≈ 6.93.
""")
check("‖∂ sum(Linear(X)) / ∂b‖ = N·√out = 4·√3", np.isclose(np.linalg.norm(layer.bias.grad), 4 * np.sqrt(3)),
      f"{np.linalg.norm(layer.bias.grad):.4f}")
savegraph(out, "graph_linear_layer", dict(layer.named_parameters()), grads=True)
fc1 = nn.Linear(64 * 7 * 7, 128)
print(f"  the articles' fc1 = Linear(3136, 128): weight {fc1.weight.shape}, bias {fc1.bias.shape}, "
      f"{fc1.num_parameters():,} parameters")


@claim("A29")
def _():
    W64, b64, X64 = W.astype(np.float64), b.astype(np.float64), X.numpy().astype(np.float64)
    article = np.array([[sum(W64[o, i] * x[i] for i in range(W64.shape[1])) + b64[o] for o in range(W64.shape[0])]
                        for x in X64])                  # Y = W·x + b, one column vector x at a time (loops)
    err = float(np.abs(article - (np.einsum("ni,oi->no", X64, W64) + b64)).max())
    return dict(err=err), (f"W·x + b per sample = a Linear layer's x Wᵀ + b on the batch (max diff {err:.0e}); W is "
                           f"(out, in), e.g. fc1 {fc1.weight.shape}; tinynet's Linear is checked against it separately above")


# %% [markdown]
# ## 5. The chain rule through a whole network

# %%
say("""
    5. A two-layer network, loss = cross_entropy(relu(x W1ᵀ + b1) W2ᵀ + b2, labels). backward()
       computes every weight's gradient in one reverse sweep; gradcheck perturbs each weight
       one by one and agrees.
""")
net = nn.Sequential(nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))
xb, yb = rng.standard_normal((6, 8)), rng.integers(0, 3, 6)
params = [tn.tensor(p.numpy().astype(np.float64), requires_grad=True) for p in net.parameters()]


def loss_of(w1, b1, w2, b2):
    h = F.relu(F.linear(tn.tensor(xb), w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), yb)


check("gradcheck through Linear → ReLU → Linear → cross-entropy", tn.gradcheck(loss_of, *params),
      f"{sum(p.numel() for p in params)} weights, each perturbed by ±1e-6")

# %%
finish()
