# %% [markdown]
# # Lesson 15 · A published table, reproduced: LeCun et al. 1998
# The articles lean on LeNet and on MNIST's history. LeCun, Bottou, Bengio and Haffner,
# "Gradient-Based Learning Applied to Document Recognition" (Proc. IEEE 86(11), 1998) compares
# classifiers on MNIST (Section III, "Results and comparison with other methods"; Fig. 9 charts
# the test error of each). We rebuild five of its rows with tinynet's layers and train each twice:
# once as close to the paper as practical, once with today's defaults (ReLU, Adam, cross-entropy).

# %%
from _common import WORKERS, lesson, say, check, finish   # first: paths, one BLAS thread
import time

import numpy as np

import tinynet as tn
import tinynet.functional as F
from tinynet import data, nn, optim
from tinynet.train import evaluate, fit

args = lesson(15, "LeCun et al. 1998, reproduced: linear, MLPs and LeNet-5")
QUICK = args.quick

# %% [markdown]
# ## 1. The rows and the paper's test errors
# The errors are those of LeCun et al. 1998 as listed, credited to the paper, in the table of the
# MNIST database page its first author maintains (rows "linear classifier (1-layer NN)",
# "2-layer NN, 300 / 1000 hidden units", "3-layer NN, 300+100 / 500+150 hidden units",
# "Convolutional net LeNet-5, [no distortions]"); all without distortions or deskewing.

# %%
PAPER = {  # row: (test error % in the paper, what it was)
    "linear 784-10": (12.0, "linear classifier (deslanted images: 8.4)"),
    "MLP 784-300-10": (4.7, "one hidden layer of 300, mean squared error"),
    "MLP 784-1000-10": (4.5, "one hidden layer of 1000"),
    "MLP 784-300-100-10": (3.05, "two hidden layers, 300 and 100"),
    "MLP 784-500-150-10": (2.95, "two hidden layers, 500 and 150"),
    "LeNet-5": (0.95, "LeNet-5 without distortions (0.8 with them)"),
}
say("""
    1. What each "paper-like" network keeps and changes (tinynet has no connection tables or RBF
       units, and trains with plain SGD rather than the paper's stochastic diagonal
       Levenberg-Marquardt):
       - inputs scaled as the paper does for LeNet-5: background −0.1, full ink 1.175;
       - squashing units (tanh; the paper uses a scaled tanh, 1.7159·tanh(2a/3)), linear outputs
         trained by mean squared error against one-hot targets, SGD without momentum;
       - LeNet-5: a 32×32 input (28×28 padded by 2 — with 0, where the paper's border is the
         background −0.1), C1 6@5×5, S2 2×2 average (the paper's has a trainable coefficient and
         bias per map), C3 16@5×5 connected to all six S2 maps (the paper connects each to 3–6 of
         them by a table), S4, C5 120@5×5, F6 84, and 10 linear outputs with MSE in place of the
         paper's Euclidean RBF units and MAP loss.
       "Today's defaults": ReLU, max pooling for LeNet-5, softmax cross-entropy, Adam (lr 1e-3),
       inputs standardised with MNIST's mean and std.
""")
PAPER_SCALE = data.Normalize(0.1 / 1.275, 1 / 1.275)        # (x − m)/s = 1.275·x − 0.1: −0.1 … 1.175
TODAY_SCALE = data.Normalize(0.1307, 0.3081)
x01 = np.linspace(0, 1, 3, dtype=np.float32)
check("the paper's input scaling maps white to −0.1 and black to 1.175",
      np.allclose(PAPER_SCALE(x01), [-0.1, 0.5375, 1.175], atol=1e-6))


def mlp(sizes, act):
    layers = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])                    # no squashing after the output layer


def lenet5(act, pool):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), act(), pool(2),      # C1 6@28×28, S2 6@14×14
                         nn.Conv2d(6, 16, 5), act(), pool(2),                 # C3 16@10×10, S4 16@5×5
                         nn.Conv2d(16, 120, 5), act(), nn.Flatten(),          # C5 120@1×1
                         nn.Linear(120, 84), act(), nn.Linear(84, 10))        # F6 84, output 10


BUILD = {
    "linear 784-10": lambda paper: mlp([784, 10], nn.Tanh),
    "MLP 784-300-10": lambda paper: mlp([784, 300, 10], nn.Tanh if paper else nn.ReLU),
    "MLP 784-1000-10": lambda paper: mlp([784, 1000, 10], nn.Tanh if paper else nn.ReLU),
    "MLP 784-300-100-10": lambda paper: mlp([784, 300, 100, 10], nn.Tanh if paper else nn.ReLU),
    "MLP 784-500-150-10": lambda paper: mlp([784, 500, 150, 10], nn.Tanh if paper else nn.ReLU),
    "LeNet-5": lambda paper: lenet5(nn.Tanh, nn.AvgPool2d) if paper else lenet5(nn.ReLU, nn.MaxPool2d),
}
lenet = BUILD["LeNet-5"](True)
shapes, x = [], tn.tensor(np.zeros((1, 1, 28, 28), np.float32))
for layer in lenet:
    x = layer(x)
    shapes.append(tuple(x.shape[1:]))
check("LeNet-5's maps: C1 6@28×28, S2 6@14×14, C3 16@10×10, S4 16@5×5, C5 120@1×1",
      [shapes[i] for i in (0, 2, 3, 5, 6)] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)])
print(f"  LeNet-5 here: {lenet.num_parameters():,} parameters (the paper's, with its C3 table and RBF outputs: 60,000)")

# %% [markdown]
# ## 2. Training every row twice

# %%
# Paper-like learning rates: for each row the best of 0.1, 0.05 and 0.01 after one epoch on the first
# 6,000 training images, scored on the last 2,000 training images (never on the test set); a rate
# whose loss blew up counted as worst. (The paper instead scheduled its own rates, 5e-4 → 1e-5,
# scaled per weight by its second-order method.)
PAPER_LR = {"linear 784-10": 0.01, "MLP 784-300-10": 0.01, "MLP 784-1000-10": 0.01, "MLP 784-300-100-10": 0.05,
            "MLP 784-500-150-10": 0.05, "LeNet-5": 0.1}


N_TRAIN, N_TEST, EPOCHS = (2000, 1000, 1) if QUICK else (None, None, 10)
say(f"""
    2. {'QUICK: ' + f'{N_TRAIN:,} training images, 1 epoch, {N_TEST:,} test images — not comparable with the paper.' if QUICK else
        f'All 60,000 training images, {EPOCHS} epochs each (the paper trains LeNet-5 for 20), the 10,000 test images.'}
       Paper-like: SGD, batch 32, lr {', '.join(f'{k} {v:g}' for k, v in PAPER_LR.items())}.
       Today: Adam lr 1e-3, batch 64.
""")


def mse_onehot(out, y):
    """Squared error to one-hot targets, summed over the 10 outputs, averaged over the batch."""
    target = tn.tensor(np.eye(10, dtype=np.float32)[np.asarray(y.numpy() if hasattr(y, "numpy") else y)])
    return F.mse_loss(out, target) * 10


def run(row, paper):
    tn.manual_seed(0)
    model = BUILD[row](paper)
    scale = PAPER_SCALE if paper else TODAY_SCALE
    train = data.mnist("train", transform=scale, limit=N_TRAIN)
    test = data.DataLoader(data.mnist("test", transform=scale, limit=N_TEST), 500)
    if paper:
        opt, batch, loss = optim.SGD(model.parameters(), lr=PAPER_LR[row]), 32, mse_onehot
    else:
        opt, batch, loss = optim.Adam(model.parameters(), lr=1e-3), 64, F.cross_entropy
    t0 = time.time()
    fit(model, opt, data.DataLoader(train, batch, shuffle=True, seed=0), epochs=EPOCHS, loss_fn=loss,
        progress=False, log=None, workers=WORKERS)
    return 1 - evaluate(model, test, workers=WORKERS)["accuracy"], time.time() - t0


results = {}
for row in PAPER:
    results[row] = (run(row, True), run(row, False))
    (e_p, s_p), (e_t, s_t) = results[row]
    print(f"  {row:20s} paper {PAPER[row][0]:5.2f} %   paper-like {100 * e_p:5.2f} % ({s_p:4.0f} s)   "
          f"today {100 * e_t:5.2f} % ({s_t:4.0f} s)")
# quick: about 60 steps, so only "better than chance (90 % error)"; full: the paper's own linear
# classifier has 12 % error (a least-squares linear classifier of MNIST has about 14 %), so 20 %.
LEARNS = 0.8 if QUICK else 0.2
check(f"every network learns (test error under {LEARNS:.0%}; chance is 90 %)",
      all(max(p[0], t[0]) < LEARNS for p, t in results.values()))

# %% [markdown]
# ## 3. Paper vs tinynet, side by side

# %%
print(f"\n  {'row':20s} | {'paper':>7s} | {'paper-like':>10s} | {'today':>7s} | the paper's row")
print(f"  {'-' * 20}-+-{'-' * 7}-+-{'-' * 10}-+-{'-' * 7}-+-{'-' * 30}")
for row, ((e_p, _), (e_t, _)) in results.items():
    print(f"  {row:20s} | {PAPER[row][0]:6.2f}% | {100 * e_p:9.2f}% | {100 * e_t:6.2f}% | {PAPER[row][1]}")
if not QUICK:
    lin, le = results["linear 784-10"][0][0], results["LeNet-5"][0][0]
    check("the paper's ordering holds: LeNet-5 beats every fully connected row, the linear classifier is worst",
          le < min(results[r][0][0] for r in PAPER if r != "LeNet-5") and lin > max(results[r][0][0] for r in PAPER if r != "linear 784-10"))

import matplotlib.pyplot as plt  # noqa: E402
from _common import savefig  # noqa: E402

fig, ax = plt.subplots(figsize=(9, 3.6))
pos = np.arange(len(PAPER))
for k, (label, values) in enumerate([("paper (1998)", [PAPER[r][0] for r in PAPER]),
                                     ("tinynet, paper-like", [100 * results[r][0][0] for r in PAPER]),
                                     ("tinynet, today's defaults", [100 * results[r][1][0] for r in PAPER])]):
    ax.bar(pos + (k - 1) * 0.27, values, 0.27, label=label)
ax.set_xticks(pos), ax.set_xticklabels(list(PAPER), fontsize=8), ax.set_ylabel("test error (%)"), ax.set_yscale("log")
ax.set_title("LeCun et al. 1998 on MNIST, and tinynet" + (" (quick mode: 2,000 images, 1 epoch)" if QUICK else ""))
ax.legend(fontsize=8)
savefig(fig, "lenet_1998_table")

# %%
finish()
