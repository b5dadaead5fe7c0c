# %% [markdown]
# # Lesson 08 · Optimisers: SGD, momentum, Adam (and RMSprop)
# Article 002 gives θ ← θ − η∇L(θ); article 003 then trains with `SGD(momentum=0.9)`, and 001/004
# with `Adam` (002's Keras code with 'adam'): updates that are different. Article 001 says which optimiser "suits" which data.
# We check each update rule by hand, then race them on MNIST.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import time

import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet import data, models, optim
from tinynet.optim import Optimizer

args = lesson(8, "Optimisers: SGD, momentum, Adam (and RMSprop)")
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. One step by hand

# %%
say("""
    1. A tiny linear model, one batch. We take its gradient g, step by hand, and compare with
       tinynet.optim after the same step(s). PyTorch's momentum (which tinynet follows):
       v ← μ·v + g (v = g at the first step),  θ ← θ − η·v.
""")
X, T = tn.tensor(rng.standard_normal((16, 5))), rng.integers(0, 3, 16)


def run(make_opt, steps):
    tn.manual_seed(1)
    layer = nn.Linear(5, 3)
    opt = make_opt(layer.parameters())
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(layer(X), T).backward()
        grads.append(layer.weight.grad.copy())
        opt.step()
    return layer.weight.numpy(), grads


w0, _ = run(lambda p: optim.SGD(p, lr=0.0), 1)
w_sgd, g = run(lambda p: optim.SGD(p, lr=0.1), 1)
check("SGD: θ₁ = θ₀ − η·g", np.allclose(w_sgd, w0 - 0.1 * g[0], atol=1e-7), f"max diff {np.abs(w_sgd - (w0 - 0.1 * g[0])).max():.1e}")
w_mu0, _ = run(lambda p: optim.SGD(p, lr=0.1, momentum=0.0), 3)
w_plain, _ = run(lambda p: optim.SGD(p, lr=0.1), 3)
check("momentum 0 is plain SGD (3 steps)", np.array_equal(w_mu0, w_plain))
w_mom, g = run(lambda p: optim.SGD(p, lr=0.1, momentum=0.9), 3)
v, w = np.zeros_like(w0), w0.copy()
for gk in g:
    v = 0.9 * v + gk
    w = w - 0.1 * v
check("momentum 0.9: v ← μv + g, θ ← θ − ηv (3 steps by hand)", np.allclose(w_mom, w, atol=1e-6),
      f"max diff {np.abs(w_mom - w).max():.1e}; the plain formula would be {np.abs(w_plain - w_mom).max():.3f} away")


@claim("A33")
def _():
    return {}, (f"engine SGD step = θ − η·g (diff {np.abs(w_sgd - (w0 - 0.1 * g[0])).max():.0e}); but no listing trains "
                f"with it: 003's use momentum 0.9, v ← μv + g, θ ← θ − ηv, which after 3 steps is "
                f"{np.abs(w_plain - w_mom).max():.3f} away from it; 001/004 use Adam, 002 Keras 'adam'")


say("""
    Adam keeps per-weight running means m (of g) and v (of g²), corrected for their zero start:
    θ ← θ − lr·m̂/(√v̂ + ε). Its first step is lr·g/(|g| + ε) ≈ lr·sign(g) for every weight,
    however large or small the gradient: the step size adapts to each weight.
""")
w_adam, g = run(lambda p: optim.Adam(p, lr=0.01), 4)
m, v2, w = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
for t, gk in enumerate(g, start=1):
    m = 0.9 * m + 0.1 * gk
    v2 = 0.999 * v2 + 0.001 * gk * gk
    w = w - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8)
check("Adam by hand = tinynet.optim.Adam (4 steps)", np.allclose(w_adam, w, atol=1e-6), f"max diff {np.abs(w_adam - w).max():.1e}")
p = nn.Parameter(np.zeros(4))
p.grad = np.array([1e-4, -0.3, 20.0, -5e3])
optim.Adam([p], lr=0.01).step()
check("Adam's first step is lr·sign(g) for gradients from 1e-4 to 5e3", np.allclose(p.numpy(), -0.01 * np.sign(p.grad), rtol=1e-3),
      f"steps {p.numpy()}")


@claim("A34")
def _():
    grads = np.array([1e-4, -0.3, 20.0, -5e3])
    m1, v1 = 0.1 * grads / (1 - 0.9), 0.001 * grads ** 2 / (1 - 0.999)         # Adam's first step by hand
    step = 0.01 * m1 / (np.sqrt(v1) + 1e-8)
    rate = np.abs(step) / np.abs(grads)                                          # the effective learning rate per weight
    return dict(rate_spread=float(rate.max() / rate.min())), (
        f"per-weight step lr·m̂/(√v̂ + ε): the first step is ±0.01 = lr·sign(g) for gradients from 1e-4 to 5e3, so the "
        f"effective rate |step|/|g| spans {rate.min():.0e}…{rate.max():.0e}; hand computation = engine (diff "
        f"{np.abs(w_adam - w).max():.0e}). No formula is given in any article")


# %% [markdown]
# ## 2. RMSprop in nine lines

# %%
say("""
    2. Article 001 also names RMSprop. It is Adam without the first moment and bias correction:
       s ← α·s + (1 − α)·g²,  θ ← θ − lr·g / (√s + ε). Writing it on tinynet's Optimizer base
       takes one method.
""")


class RMSprop(Optimizer):
    """PyTorch's RMSprop (no momentum, not centred): s ← αs + (1−α)g², p ← p − lr·g/(√s + ε)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

    def _update(self, p, g, state, group):
        s = state.setdefault("square_avg", g * 0)
        s *= group["alpha"]
        s += (1 - group["alpha"]) * g * g
        p.data -= group["lr"] * g / (s ** 0.5 + group["eps"])


w_rms, g = run(lambda p: RMSprop(p, lr=0.01), 3)
s, w = np.zeros_like(w0), w0.copy()
for gk in g:
    s = 0.99 * s + 0.01 * gk * gk
    w = w - 0.01 * gk / (np.sqrt(s) + 1e-8)
check("our RMSprop = its formula (3 steps)", np.allclose(w_rms, w, atol=1e-6))

# %% [markdown]
# ## 3. Paths on a long narrow valley

# %%
say("""
    3. f(a, b) = ½(a² + 25·b²): 25 times steeper across than along. From (−4, 1), 40 steps each.
""")


def path(make_opt, steps=40):
    w = nn.Parameter(np.array([-4.0, 1.0]))
    opt, points = make_opt([w]), [w.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (w[0] * w[0] + 25 * w[1] * w[1])).backward()
        opt.step()
        points.append(w.numpy().copy())
    return np.array(points)


paths = {"SGD lr 0.035": path(lambda p: optim.SGD(p, lr=0.035)),
         "SGD + momentum 0.9, lr 0.01": path(lambda p: optim.SGD(p, lr=0.01, momentum=0.9)),
         "Adam lr 0.3": path(lambda p: optim.Adam(p, lr=0.3)),
         "RMSprop lr 0.1": path(lambda p: RMSprop(p, lr=0.1))}
for name, pts in paths.items():
    print(f"  {name:30s} distance to the minimum after 40 steps: {np.linalg.norm(pts[-1]):.4f}")

# %% [markdown]
# ## 4. A race on MNIST

# %%
n_train = 2000 if args.quick else 60000
say(f"""
    4. The LeNet-style model of article 003, {n_train:,} training images, batch 64, one epoch,
       the same initial weights and batch order for each optimiser. Article 001: "SGD suits small
       batches and is fast; RMSprop suits large data". We just measure.
""")
train = data.mnist("train", transform=data.Normalize(0.1307, 0.3081), limit=n_train)
test = data.mnist("test", transform=data.Normalize(0.1307, 0.3081), limit=1000 if args.quick else None)
settings = {"SGD lr 0.01": lambda p: optim.SGD(p, lr=0.01),
            "SGD lr 0.01 momentum 0.9": lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
            "Adam lr 1e-3": lambda p: optim.Adam(p, lr=1e-3),
            "RMSprop lr 1e-3": lambda p: RMSprop(p, lr=1e-3)}
curves, results = {}, {}
for name, make in settings.items():
    tn.manual_seed(0)
    model = models.lenet()
    opt = make(model.parameters())
    losses, t0 = [], time.time()
    for xb, yb in data.DataLoader(train, batch_size=64, shuffle=True, seed=0):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with tn.no_grad():
        correct = sum(int((model(xb).numpy().argmax(1) == yb.numpy()).sum()) for xb, yb in data.DataLoader(test, 500))
    curves[name], results[name] = losses, (correct / len(test), time.time() - t0)
    print(f"  {name:26s} last-50-batch loss {np.mean(losses[-50:]):.3f}   test accuracy {correct / len(test):.2%}   ({time.time() - t0:.1f} s)")
check("every optimiser lowers the loss", all(np.mean(c[-20:]) < np.mean(c[:5]) for c in curves.values()))
best = max(results, key=lambda k: results[k][0])


@claim("A35")
def _():
    text = ", ".join(f"{k} {v[0]:.1%}" for k, v in results.items())
    return {}, (f"1 epoch of LeNet on {n_train:,} images, same batches: {text} "
                f"(best here: {best}; the ranking changes with learning rates and budgets). The race varies neither "
                f"batch size nor data size and is not a speed test, so it does not test the claim; 'small batches' "
                f"(小批量训练数据, L417) may also mean small amounts of data, beside L418–419's 'large-scale data'")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
A, B = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 200))
a.contour(A, B, 0.5 * (A ** 2 + 25 * B ** 2), levels=20, cmap="Greys", linewidths=0.6)
for name, pts in paths.items():
    a.plot(pts[:, 0], pts[:, 1], ".-", label=name, ms=3)
a.plot(0, 0, "k*", ms=10)
a.legend(fontsize=8), a.set_title("40 steps on f = ½(a² + 25b²) from (−4, 1); ★ the minimum\n(grey: contour lines of f)")
a.set_xlabel("a"), a.set_ylabel("b (25× steeper than a)")
for name, c in curves.items():
    k = max(1, len(c) // 40)
    b.plot(np.convolve(c, np.ones(k) / k, mode="valid"), label=f"{name} ({results[name][0]:.1%})")
b.set_xlabel("batch"), b.set_ylabel("training loss (moving average)"), b.legend(fontsize=8)
b.set_title(f"LeNet, one epoch on {n_train:,} images\n(in brackets: test accuracy after the epoch)")
savefig(fig, "optimisers")

# %%
finish()
