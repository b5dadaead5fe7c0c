# %% [markdown]
# # Lesson 04 · Convolution, cross-correlation and im2col
# The articles give four different formulas for "the convolution" a CNN computes (000 §4.1,
# 001 §4.1–4.3, 002 §4.1, 004 §4.1, 003 §4.2.1). We implement them with plain loops, compare
# them with tinynet's `conv2d` (im2col + one matrix product) and with each other.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import numpy as np

import tinynet as tn
import tinynet.functional as F
from tinynet.im2col import im2col
from data_tools.mnist import load_mnist

args = lesson(4, "Convolution, cross-correlation and im2col")
rng = np.random.default_rng(0)
images, labels = load_mnist("test")
X = images[0].astype(np.float64) / 255                      # a 7
SOBEL = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])    # asymmetric: responds to vertical edges
BLUR = np.array([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16   # symmetric under a 180° turn

# %% [markdown]
# ## 1. Two formulas, written as loops
# Article 000: (f∗g)(x,y) = Σ_{u=−k..k} Σ_{v=−k..k} f(x−u, y−v)·g(u,v) — the mathematicians'
# convolution, kernel flipped. Article 002: Y[i,j] = Σ_m Σ_n X[i+m, j+n]·K[m,n] — no flip,
# which mathematicians call cross-correlation.

# %%
def convolve_000(f, g):
    """Article 000's formula, 'valid' part only. g has odd size 2k+1, indexed −k..k."""
    k = g.shape[0] // 2
    H, W = f.shape
    out = np.zeros((H - 2 * k, W - 2 * k))
    for x in range(k, H - k):
        for y in range(k, W - k):
            out[x - k, y - k] = sum(f[x - u, y - v] * g[u + k, v + k]
                                    for u in range(-k, k + 1) for v in range(-k, k + 1))
    return out


def correlate_002(X, K):
    """Article 002's formula: Y[i,j] = Σ_m Σ_n X[i+m, j+n]·K[m,n], output (H−M+1)×(W−N+1)."""
    M, N = K.shape
    H, W = X.shape
    return np.array([[np.sum(X[i:i + M, j:j + N] * K) for j in range(W - N + 1)] for i in range(H - M + 1)])


def convolve_fft(f, g):
    """True convolution by the convolution theorem (an independent reference), 'valid' part."""
    s = (f.shape[0] + g.shape[0] - 1, f.shape[1] + g.shape[1] - 1)
    full = np.real(np.fft.ifft2(np.fft.fft2(f, s) * np.fft.fft2(g, s)))
    k = g.shape[0] - 1
    return full[k:f.shape[0], k:f.shape[1]]


def correlate_reference(X, K):
    """What a conv layer computes (PyTorch's Conv2d docs: valid cross-correlation), by NumPy sliding
    windows — an independent reference for the verdicts, which never depend on tinynet's engine."""
    return np.einsum("ijmn,mn->ij", np.lib.stride_tricks.sliding_window_view(X, K.shape), K)


say("""
    1. A test digit (28×28) and the Sobel kernel [[-1 0 1] [-2 0 2] [-1 0 1]].
""")
conv_sobel, xcorr_sobel = convolve_000(X, SOBEL), correlate_002(X, SOBEL)
flip = SOBEL[::-1, ::-1]
d_flip = np.abs(conv_sobel - correlate_002(X, flip)).max()
d_fft = np.abs(conv_sobel - convolve_fft(X, SOBEL)).max()
d_blur = np.abs(convolve_000(X, BLUR) - correlate_002(X, BLUR)).max()
print(f"  output shapes: 000's formula {conv_sobel.shape}, 002's formula {xcorr_sobel.shape}")
check("000's loop equals the FFT convolution (convolution theorem)", d_fft < 1e-12, f"max diff {d_fft:.1e}")
check("with the Sobel kernel the two formulas differ", not np.allclose(conv_sobel, xcorr_sobel),
      f"here conv = −xcorr exactly: max |conv + xcorr| = {np.abs(conv_sobel + xcorr_sobel).max():.1e}")
check("convolution = cross-correlation with the kernel turned 180°", d_flip < 1e-12, f"max diff {d_flip:.1e}")
check("with a symmetric kernel (blur) they agree", d_blur < 1e-12, f"max diff {d_blur:.1e}")

# %% [markdown]
# ## 2. What tinynet's conv2d computes — and how (im2col)

# %%
say("""
    2. tinynet's conv2d (like PyTorch's Conv2d and Keras's Conv2D) computes 002's formula. It
       copies every 3×3 window into a column (im2col: 9 rows × 26·26 = 676 columns), so the
       whole convolution is one matrix product: kernel (1×9) @ columns (9×676).
""")
Xt = tn.tensor(X[None, None])                                  # (N=1, C=1, 28, 28)
engine = F.conv2d(Xt, tn.tensor(SOBEL[None, None])).numpy()[0, 0]
cols = im2col(X[None, None], (3, 3)).reshape(9, 676)   # one image, one channel: 9 × 676 whatever the batch layout
print(f"  im2col: {X[None, None].shape} → {cols.shape};  kernel (1, 9) @ columns → {(SOBEL.reshape(1, 9) @ cols).shape}")
d_engine = np.abs(engine - xcorr_sobel).max()
d_matmul = np.abs((SOBEL.reshape(1, 9) @ cols).reshape(26, 26) - xcorr_sobel).max()
check("engine conv2d = 002's loop (cross-correlation)", d_engine < 1e-12, f"max diff {d_engine:.1e}")
check("kernel @ im2col columns = the loop", d_matmul < 1e-12, f"max diff {d_matmul:.1e}")
check("engine conv2d ≠ 000's formula for the Sobel kernel", np.abs(engine - conv_sobel).max() > 0.5,
      f"max diff {np.abs(engine - conv_sobel).max():.2f}")


@claim("A15")
def _():
    err_xcorr = float(np.abs(conv_sobel - correlate_reference(X, SOBEL)).max())
    err_flipped = float(np.abs(conv_sobel - correlate_reference(X, flip)).max())
    return dict(err_xcorr=err_xcorr, err_flipped=err_flipped), (
        f"true convolution as mathematics (loop = FFT, diff {d_fft:.0e}), but CNN layers compute cross-correlation: "
        f"for Sobel they differ by up to {err_xcorr:.2f}; equal only after a 180° kernel turn (diff {err_flipped:.0e}) "
        "or for symmetric kernels")


@claim("A17")
def _():
    err = float(np.abs(xcorr_sobel - correlate_reference(X, SOBEL)).max())
    return dict(err=err), (f"the formula's loop = NumPy sliding-window cross-correlation (max diff {err:.0e}); "
                           f"28×28 with 3×3 gives {xcorr_sobel.shape[0]}×{xcorr_sobel.shape[1]}; tinynet's conv2d and "
                           f"kernel @ im2col are checked against the loop separately (max diff {max(d_engine, d_matmul):.0e})")


# %% [markdown]
# ## 3. "k is the kernel size"

# %%
say("""
    3. Article 000 says k in Σ_{u=−k..k} Σ_{v=−k..k} "is the kernel size". Count the terms.
""")
terms = {k: len([(u, v) for u in range(-k, k + 1) for v in range(-k, k + 1)]) for k in (1, 2, 3)}
print("  " + ", ".join(f"k={k}: {n} terms = a {int(n ** .5)}×{int(n ** .5)} kernel" for k, n in terms.items()))
check("the sum has (2k+1)² terms", all(n == (2 * k + 1) ** 2 for k, n in terms.items()))


@claim("A16")
def _():
    side = int(round(terms[1] ** 0.5))
    return dict(k=1, side=side), (f"k = 1 sums {terms[1]} terms (a {side}×{side} kernel), k = 2 sums {terms[2]} (5×5): "
                                  "k is the half-width, size = 2k+1; even sizes cannot be written this way")


# %% [markdown]
# ## 4. Many channels, a bias, and the gradient

# %%
say("""
    4. Article 004: y_ij = Σ_m Σ_n x_{i+m, j+n}·w_mn + b. With C input channels and OC output
       channels the sum also runs over channels: y[o,i,j] = b[o] + Σ_c Σ_m Σ_n x[c,i+m,j+n]·w[o,c,m,n].
       A six-loop reference against the engine, on random numbers, then a gradient check.
""")
x4 = rng.standard_normal((2, 3, 7, 6))
w4 = rng.standard_normal((4, 3, 3, 3))
b4 = rng.standard_normal(4)
ref = np.zeros((2, 4, 5, 4))
for n in range(2):
    for o in range(4):
        for i in range(5):
            for j in range(4):
                ref[n, o, i, j] = b4[o] + sum(x4[n, c, i + m, j + q] * w4[o, c, m, q]
                                              for c in range(3) for m in range(3) for q in range(3))
d6 = np.abs(F.conv2d(tn.tensor(x4), tn.tensor(w4), tn.tensor(b4)).numpy() - ref).max()
check("engine conv2d = six-loop formula (2 images, 3→4 channels, bias)", d6 < 1e-10, f"max diff {d6:.1e}")
grad_ok = tn.gradcheck(lambda a, w, b: F.conv2d(a, w, b, padding=1),
                       tn.tensor(x4[:1], requires_grad=True), tn.tensor(w4, requires_grad=True),
                       tn.tensor(b4, requires_grad=True))
check("gradcheck of conv2d (padding 1) for input, weight and bias", grad_ok)


@claim("A18")
def _():
    windows = np.lib.stride_tricks.sliding_window_view(x4, (3, 3), axis=(2, 3))     # (N, C, 5, 4, 3, 3)
    reference = np.einsum("ncijmq,ocmq->noij", windows, w4) + b4[None, :, None, None]
    err = float(np.abs(ref - reference).max())
    return dict(err=err), (f"the formula (single-channel in the article), extended with the sum over input channels it "
                           f"omits: six loops = NumPy einsum over windows (max diff "
                           f"{err:.0e}); tinynet's conv2d is checked against the loops separately (diff {d6:.0e}, gradcheck)")


# %% [markdown]
# ## 5. The ⊙ symbol and the output size

# %%
say("""
    5. Article 001 writes output = input ⊙ kernel + bias. ⊙ usually means the element-wise
       (Hadamard) product — which is not even defined for a 28×28 image and a 3×3 kernel.
""")
try:
    X * SOBEL
    hadamard = "no error"
except ValueError as e:
    hadamard = f"ValueError: {e}"
print(f"  X * K → {hadamard}")
check("the element-wise product of 28×28 and 3×3 is an error; conv gives 26×26",
      hadamard.startswith("ValueError") and engine.shape == (26, 26))


@claim("A19")
def _():
    return {}, (f"⊙ as the element-wise product is undefined for 28×28 and 3×3 ({hadamard.strip()}); as convolution, "
                f"as the article declares, it gives {engine.shape}")


say("""
    Output size: OH = ⌊(H + 2p − k) / s⌋ + 1. Article 001 says a 28×28 input and a 3×3 kernel
    give 28×28; article 004 says 26×26. Both, depending on the padding p.
""")
w1 = tn.tensor(rng.standard_normal((1, 1, 3, 3)))
shape_p0 = F.conv2d(Xt, w1).shape[2:]
shape_p1 = F.conv2d(Xt, w1, padding=1).shape[2:]
print(f"  p = 0: formula {(28 - 3) // 1 + 1}, engine {shape_p0};  p = 1: formula {(28 + 2 - 3) // 1 + 1}, engine {shape_p1}")
check("formula and engine agree for p = 0 and p = 1", shape_p0 == (26, 26) and shape_p1 == (28, 28))


@claim("A20")
def _():
    hw0, hw1 = correlate_002(X, SOBEL).shape, correlate_002(np.pad(X, 1), SOBEL).shape
    return dict(hw_pad0=hw0, hw_pad1=hw1), (f"28×28 only with padding 1 ({hw1[0]}×{hw1[1]}); the article's own code "
                                            f"nn.Conv2d(1, 32, 3) has padding 0 and gives {hw0[0]}×{hw0[1]}")


@claim("A43")
def _():
    hw = xcorr_sobel.shape
    return dict(hw=hw), f"(28 − 3)/1 + 1 = {hw[0]} with no padding (loop formula); the article's code uses padding=1 → 28×28"


# %% [markdown]
# ## 6. Article 001's "derivation"

# %%
say("""
    6. Article 001 §4.2 'derives' Y = (X₁⊙K) + … + (Xₙ⊙K) = (X₁ + … + Xₙ)⊙K = X⊙K, with Xᵢ
       'parts of the image'. What is true is linearity: if X = X₁ + … + Xₙ (full-size masked
       copies), then conv(X) = Σ conv(Xᵢ). If the Xᵢ are the 3×3 patches, each Xᵢ⊙K is one
       number and the patches do not add up to X at all.
""")
quadrants = []
for rows in (slice(0, 14), slice(14, 28)):
    for cols_ in (slice(0, 14), slice(14, 28)):
        q = np.zeros_like(X)
        q[rows, cols_] = X[rows, cols_]
        quadrants.append(q)
lin = np.abs(sum(correlate_002(q, BLUR) for q in quadrants) - correlate_002(X, BLUR)).max()
patches = cols.T.reshape(-1, 3, 3)                             # the 676 patches
patch_sum_conv = np.sum(patches.sum(0) * BLUR)                    # "(X₁+…+Xₙ) ⊙ K", K = blur
check("linearity: conv(Σ quadrants) = Σ conv(quadrant)", lin < 1e-12, f"max diff {lin:.1e}")
check("summing the 676 patches first gives one number, not a 26×26 map",
      np.ndim(patch_sum_conv) == 0, f"{patch_sum_conv:.3f} vs a map of shape {correlate_002(X, BLUR).shape}")


@claim("A21")
def _():
    return {}, (f"only linearity holds (masked quadrants: diff {lin:.0e}); with patches, "
                f"(ΣXᵢ)⊙K is the scalar {patch_sum_conv:.2f}, not the 26×26 Y")


# %% [markdown]
# ## 7. Where the bias and the ReLU go

# %%
say("""
    7. Article 001 §4.3: Y₁ = X⊙K₁ + b₁ = max(0, X⊙K₁) + b₁, then Y₂ = max(0, Y₁). A conv
       layer with ReLU computes a = max(0, X⋆K₁ + b₁). Compare on the digit with a random kernel.
""")
K1, b1 = rng.standard_normal((3, 3)), 0.3
z = correlate_002(X, K1)
lhs, rhs = z + b1, np.maximum(0, z) + b1
article_y2 = np.maximum(0, np.maximum(0, z) + b1)
correct = np.maximum(0, z + b1)
print(f"  X⋆K₁ + b₁ and max(0, X⋆K₁) + b₁ differ at {(lhs != rhs).sum()} of {z.size} positions (where X⋆K₁ < 0)")
check("relu(relu(z)) = relu(z) (applying it twice changes nothing)", np.array_equal(np.maximum(0, np.maximum(0, z)), np.maximum(0, z)))
check("relu(z) + b ≠ relu(z + b) for b ≠ 0", not np.allclose(np.maximum(0, z) + b1, correct))
print(f"  the article's Y₂ differs from relu(X⋆K₁ + b₁) at {(article_y2 != correct).sum()} positions")


@claim("A22")
def _():
    n = int((lhs != rhs).sum())
    return dict(n_differ=n), f"the equality fails at {n}/{z.size} positions (wherever X⋆K₁ < 0); right form a = max(0, X⋆K₁ + b₁)"


# %% [markdown]
# ## 8. Article 003's "basic formula of a convolutional layer"

# %%
say("""
    8. Article 003 §4.2.1: f_θ(x) = Σᵢ θᵢ·f(gᵢ(x)), gᵢ "the kernels", θᵢ "their weights", f
       the activation. In a real layer the kernel *is* the weight and the activation comes
       last: f(Σ_c w⋆x_c + b), which after a ReLU is never negative. With the formula's
       activation inside the sum, negative θᵢ give negative outputs.
""")
kernels = rng.standard_normal((4, 1, 3, 3))
theta = np.array([1.0, -2.0, 0.5, -1.0])
maps = F.relu(F.conv2d(Xt, tn.tensor(kernels))).numpy()[0]          # f(gᵢ(x)) for 4 kernels
formula = np.tensordot(theta, maps, axes=1)                         # Σ θᵢ f(gᵢ(x))
layer = F.relu(F.conv2d(Xt, tn.tensor(kernels), tn.tensor(np.zeros(4)))).numpy()
check("tinynet's relu(conv2d) = the NumPy sliding-window reference, 4 kernels",
      np.allclose(maps, [np.maximum(0, correlate_reference(X, k[0])) for k in kernels], atol=1e-12))
print(f"  conv layer + ReLU: min {layer.min():.3f};  the formula: min {formula.min():.3f}")
check("a conv+ReLU layer's output is ≥ 0; the formula's is not", layer.min() >= 0 and formula.min() < 0)


@claim("A28")
def _():
    maps_np = np.array([np.maximum(0, correlate_reference(X, k[0])) for k in kernels])   # Conv+ReLU in NumPy
    formula_np = np.tensordot(theta, maps_np, axes=1)
    return dict(formula_min=float(formula_np.min()), layer_min=float(maps_np.min())), (
        f"the text calls gᵢ(x) the kernel and θᵢ its weight, but the kernel is the weight and does not depend on x; "
        f"Σᵢ θᵢ·f(·) is an activation followed by a weighted sum, while a conv layer is f(Σ w⋆x + b). The sign shows it: "
        f"with θ = {theta.tolist()} the formula reaches {formula_np.min():.2f} < 0, a Conv+ReLU layer never does "
        f"(min {maps_np.min():.0f})")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 5, figsize=(15, 3.4), layout="constrained")
im = axes[0].imshow(X, cmap="gray_r", vmin=0, vmax=1)
axes[0].set_title("the digit X (a 7)", fontsize=9)
fig.colorbar(im, ax=axes[0], shrink=0.8, label="ink (0 = paper, 1 = black)")
im = axes[1].imshow(SOBEL, cmap="RdBu_r", vmin=-2, vmax=2)
for (i, j), v in np.ndenumerate(SOBEL):
    axes[1].text(j, i, f"{v:g}", ha="center", va="center", fontsize=10)
axes[1].set_title("the kernel K (Sobel): positive where\nthe ink increases left → right", fontsize=9)
fig.colorbar(im, ax=axes[1], shrink=0.8, label="kernel weight")
edge = np.abs(xcorr_sobel).max()                # one colour scale for the three results
for ax, (title, result) in zip(axes[2:], [
        ("article 002's formula (no turn)\n= tinynet's conv2d", xcorr_sobel),
        ("article 000's formula\n(K turned 180°): signs swap", conv_sobel),
        ("conv2d, then ReLU:\nthe negative half set to 0", np.maximum(0, engine))]):
    im = ax.imshow(result, cmap="RdBu_r", vmin=-edge, vmax=edge)
    ax.set_title(title, fontsize=9)
fig.colorbar(im, ax=list(axes[2:]), shrink=0.8, label="output (red +, blue −, white 0)")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("one digit, one kernel, the articles' two formulas: for this kernel they differ only in sign")
savefig(fig, "convolution_vs_correlation")

fig, ax = plt.subplots(figsize=(11, 2.4))
first = 26 * 7                                  # output rows 7–11 of 26: they cross the 7's bar and stem
im = ax.imshow(cols[:, first:first + 130], cmap="gray_r", aspect="auto", vmin=0, vmax=1,
               extent=(first - 0.5, first + 129.5, 8.5, -0.5))
for row_start in range(first, first + 130, 26):
    ax.axvline(row_start - 0.5, color="C1", lw=1)
ax.set_xlabel("output position (130 of 676: output rows 7–11, each starting at an orange line)")
ax.set_ylabel("kernel offset (9)")
ax.set_title("im2col: each column is one 3×3 window of the digit, flattened")
fig.colorbar(im, ax=ax, label="ink")
savefig(fig, "im2col_columns")

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8), layout="constrained")
top = maps.max()                                # one scale for the four maps
for i, ax in enumerate(axes):
    im = ax.imshow(maps[i], cmap="magma", vmin=0, vmax=top)
    ax.set_axis_off(), ax.set_title(f"random kernel {i + 1}, then ReLU\n(weight θ{i + 1} = {theta[i]:g})", fontsize=9)
fig.colorbar(im, ax=list(axes), shrink=0.8, label="activation (≥ 0)")
fig.suptitle("article 003's f(gᵢ(x)): four feature maps; weighted by the θᵢ, the negative ones make Σ θᵢ f(gᵢ(x)) < 0",
             fontsize=10)
savefig(fig, "feature_maps")

# %%
finish()
