# %% [markdown]
# # Lesson 11 · Beyond accuracy: confusion matrix, precision and recall
# Article 000 defines accuracy, precision and recall; 002 promises "accuracy, confusion matrix
# and other metrics"; 001 "accuracy, recall and other metrics". Their code computes accuracy
# only. We compute all of them for a trained CNN, and check each by brute-force counting.

# %%
from _common import ROOT, WORKERS, lesson, say, check, claim, figure, savefig, trained_model, finish   # first: paths, one BLAS thread
import numpy as np

import tinynet as tn
from tinynet import data, metrics, models, optim, plots
from tinynet.train import evaluate, fit

tn.manual_seed(0)
args = lesson(11, "Beyond accuracy: confusion matrix, precision and recall")

# %% [markdown]
# ## 1. A trained model and its predictions

# %%
say("""
    1. The padded CNN trained with article 004's recipe (Adam 1e-3, batch 64, inputs in [0, 1]).
       Lesson 10's full run saves it; otherwise we train it here (quick: 1 epoch on 2,000 images;
       full: 2 epochs on 60,000).
""")


def train(model):
    loader = data.DataLoader(data.mnist("train", limit=2000 if args.quick else None), 64, shuffle=True, seed=0)
    fit(model, optim.Adam(model.parameters(), lr=1e-3), loader, epochs=1 if args.quick else 2, progress=False,
        workers=WORKERS)


model, _ = trained_model(ROOT / "lessons" / "out" / "10" / "cnn_r5.npz", models.cnn, train)
test = data.mnist("test", limit=2000 if args.quick else None)
result = evaluate(model, data.DataLoader(test, 500), workers=WORKERS)
y, p = result["labels"], result["predictions"]
print(f"  test accuracy {result['accuracy']:.2%} on {len(y):,} images")

# %% [markdown]
# ## 2. The confusion matrix, and every metric from it

# %%
say("""
    2. C[t, p] = number of test images of true class t predicted as p (rows: truth). From it:
       accuracy = trace(C) / ΣC;  precision_c = C[c,c] / (column c sum);  recall_c = C[c,c] / (row c sum).
       Each is checked against counting the predictions one by one.
""")
C = metrics.confusion_matrix(y, p, 10)
brute = np.zeros((10, 10), int)
for t_, p_ in zip(y, p):
    brute[t_, p_] += 1
check("confusion matrix = counting pairs one by one", np.array_equal(C, brute))
precision, recall, f1, support = metrics.precision_recall_f1(C)
bf_precision = np.array([((p == c) & (y == c)).sum() / max((p == c).sum(), 1) for c in range(10)])
bf_recall = np.array([((p == c) & (y == c)).sum() / max((y == c).sum(), 1) for c in range(10)])
accuracy = np.trace(C) / C.sum()
check("accuracy = trace / sum = mean(prediction == label)", np.isclose(accuracy, (y == p).mean()))
check("precision_c = C[c,c] / column sum = brute force", np.allclose(precision, bf_precision))
check("recall_c = C[c,c] / row sum = brute force", np.allclose(recall, bf_recall))
print(metrics.format_report(metrics.classification_report(y, p, 10)))

micro_p = np.trace(C) / C.sum(axis=0).sum()
micro_r = np.trace(C) / C.sum(axis=1).sum()
macro_r = recall.mean()
print(f"  micro precision {micro_p:.4f} = micro recall {micro_r:.4f} = accuracy {accuracy:.4f};  "
      f"macro recall {macro_r:.4f}, macro precision {precision.mean():.4f}")
check("with one label per image, micro precision = micro recall = accuracy", np.isclose(micro_p, accuracy) and np.isclose(micro_r, accuracy))

off = C.copy()
np.fill_diagonal(off, 0)
pairs = sorted(((off[a, b] + off[b, a], a, b) for a in range(10) for b in range(a + 1, 10)), reverse=True)[:4]
print("  most confused pairs (both directions): " + ", ".join(f"{a}↔{b} ({n}×)" for n, a, b in pairs))


@claim("A76")
def _():
    tp = np.diag(brute).astype(float)                  # the article's TP / FP / FN, per class (one vs rest), NumPy
    fp, fn = brute.sum(0) - tp, brute.sum(1) - tp
    err = max(np.abs(tp / np.maximum(tp + fp, 1) - bf_precision).max(), np.abs(tp / np.maximum(tp + fn, 1) - bf_recall).max(),
              abs(tp.sum() / brute.sum() - (y == p).mean()))
    return dict(err=float(err)), (f"binary definitions, applied per class (one vs rest), = counting predictions one by one "
                                  f"(max diff {err:.0e}): accuracy {accuracy:.4f}; macro precision {precision.mean():.4f}, "
                                  f"macro recall {macro_r:.4f}; micro P = micro R = accuracy. tinynet.metrics checked separately")


@claim("A77")
def _():
    return {}, ("002's code computes accuracy only (metrics=['accuracy']). The matrix here shows the most confused pairs: "
                + ", ".join(f"{a}↔{b} ({n})" for n, a, b in pairs[:3]))


@claim("A78")
def _():
    skewed = np.array([[90, 0], [5, 5]])               # 90 zeros all found, 10 ones half found: imbalanced classes
    _, skewed_recall, _, _ = metrics.precision_recall_f1(skewed)
    counts = f"test digits {support.min()}–{support.max()} images each"
    here = (f"= accuracy {accuracy:.4f} here (to 4 places; classes nearly balanced: {counts})"
            if f"{macro_r:.4f}" == f"{accuracy:.4f}" else f"≠ accuracy {accuracy:.4f} here ({counts})")
    return {}, (f"the code computes accuracy only; recall is a per-class number (min {recall.min():.4f} for digit "
                f"{recall.argmin()}); macro recall {macro_r:.4f} {here}. They are different quantities and part on "
                f"imbalanced classes: 90 zeros all right and 10 ones half right give accuracy "
                f"{np.trace(skewed) / skewed.sum():.2f}, macro recall {skewed_recall.mean():.2f}")


# %%
figure(plots.confusion_heatmap(C, args.out / "confusion_matrix.png", title=f"padded CNN, {len(y):,} test images"))
figure(plots.misclassified_grid(test.arrays[0][:len(y), 0], y, p, args.out / "misclassified.png"))
figure(plots.first_layer_filters(model[0].weight, args.out / "first_layer_filters.png", next_weight=model[3].weight))

import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(8, 3.4))
ax.bar(np.arange(10) - 0.2, 100 * precision, 0.4, label="precision")
ax.bar(np.arange(10) + 0.2, 100 * recall, 0.4, label="recall")
ax.axhline(100 * accuracy, color="k", lw=0.8, ls="--", label=f"accuracy {accuracy:.2%}")
ax.set_ylim(100 * min(precision.min(), recall.min()) - 2, 100.5), ax.set_xticks(range(10))
ax.set_xlabel("digit"), ax.set_ylabel("%"), ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.set_title("per digit d — precision: of the images called d, how many are d;\nrecall: of the d's, how many were found",
             fontsize=9)
savefig(fig, "precision_recall_per_class")

# %%
finish()
