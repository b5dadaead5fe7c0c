"""Classification metrics from predicted and true labels: accuracy, confusion matrix, P/R/F1.

Everything derives from the confusion matrix C (K×K), C[t, p] = number of samples of true class
t predicted as p (rows: truth, columns: prediction, as scikit-learn):

    accuracy     = trace(C) / ΣC
    precision_k  = C[k, k] / Σ_t C[t, k]     (of what was called k, the share that is k)
    recall_k     = C[k, k] / Σ_p C[k, p]     (of what is k, the share that was found)
    F1_k         = 2 · P_k · R_k / (P_k + R_k)
    macro average = the unweighted mean over classes

A class never predicted has precision 0/0 and a class absent from the truth recall 0/0: both are
reported as 0 (scikit-learn's ``zero_division=0``). Inputs are host-side label arrays (or
Tensors), so this module uses NumPy through ``backend.get_module``.
"""
from . import backend
from .tensor import Tensor

np = backend.get_module("numpy")

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "classification_report", "format_report"]


def _labels(a, name):
    a = backend.to_numpy(a.data if isinstance(a, Tensor) else a)
    if a.size == 0:
        a = a.astype(np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D array of integer class labels, got dtype {a.dtype} and shape {a.shape}")
    return a


def _pair(y_true, y_pred):
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    return t, p


def accuracy(y_true, y_pred):
    """The share of samples whose predicted label equals the true one (0.0 for no samples)."""
    t, p = _pair(y_true, y_pred)
    return float((t == p).mean()) if t.size else 0.0


def confusion_matrix(y_true, y_pred, num_classes=None):
    """C (K, K) int64 with C[t, p] = #{i : y_true[i] = t and y_pred[i] = p}; K defaults to max label + 1."""
    t, p = _pair(y_true, y_pred)
    k = num_classes if num_classes is not None else int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"labels must lie in 0..{k - 1} for {k} classes")
    return np.bincount(t.astype(np.int64) * k + p, minlength=k * k).reshape(k, k)


def _safe_divide(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def precision_recall_f1(cm):
    """Per-class (precision, recall, F1, support) arrays from a confusion matrix."""
    cm = np.asarray(cm)
    tp = np.diag(cm)
    precision = _safe_divide(tp, cm.sum(axis=0))
    recall = _safe_divide(tp, cm.sum(axis=1))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return precision, recall, f1, cm.sum(axis=1)


def classification_report(y_true, y_pred, num_classes=10):
    """A dict (JSON-ready) with accuracy, per-class precision/recall/F1/support, macro averages
    and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    precision, recall, f1, support = precision_recall_f1(cm)
    return {
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0,
        "samples": int(cm.sum()),
        "per_class": [{"class": k, "precision": float(precision[k]), "recall": float(recall[k]),
                       "f1": float(f1[k]), "support": int(support[k])} for k in range(len(cm))],
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }


def format_report(report, class_names=None):
    """The report as text: accuracy, a P/R/F1 table, the confusion matrix and the worst mix-ups."""
    cm = np.asarray(report["confusion_matrix"])
    names = [str(c) for c in (class_names or range(len(cm)))]
    width = max(5, max(len(n) for n in names))
    errors = report["samples"] - int(np.trace(cm))
    lines = [f"accuracy: {report['accuracy']:.2%} ({report['samples'] - errors} of {report['samples']} right, "
             f"{errors} wrong)", "",
             f"{'class':>{width}}  precision  recall     F1  support"]
    for row, name in zip(report["per_class"], names):
        lines.append(f"{name:>{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7d}")
    m = report["macro"]
    lines += [f"{'macro':>{width}}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:.4f}  {report['samples']:7d}", "",
              "confusion matrix (rows: true class, columns: predicted)",
              " " * (width + 1) + "".join(f"{n:>6}" for n in names)]
    lines += [f"{name:>{width}} " + "".join(f"{v:6d}" for v in row) for name, row in zip(names, cm)]
    off = cm.copy()
    np.fill_diagonal(off, 0)
    worst = [(int(off[t, p]), t, p) for t, p in zip(*np.unravel_index(np.argsort(off, axis=None)[::-1][:5], off.shape))
             if off[t, p] > 0]
    if worst:
        lines += ["", "most frequent mistakes: " + ", ".join(f"{names[t]} taken for {names[p]} ({n}×)" for n, t, p in worst)]
    return "\n".join(lines)
