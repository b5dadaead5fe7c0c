"""tinynet.metrics against examples computed by hand."""
import numpy as np
import pytest

import tinynet as tn
from tinynet import metrics

# 3 classes, 8 samples.  By hand:
#   true 0 0 0 1 1 2 2 2
#   pred 0 0 1 1 2 2 2 0
#   C = [[2, 1, 0],      precision = [2/3, 1/2, 2/3]    (columns 3, 2, 3)
#        [0, 1, 1],      recall    = [2/3, 1/2, 2/3]    (rows    3, 2, 3)
#        [1, 0, 2]]      accuracy  = 5/8
TRUE = [0, 0, 0, 1, 1, 2, 2, 2]
PRED = [0, 0, 1, 1, 2, 2, 2, 0]


def test_confusion_matrix_by_hand():
    assert metrics.confusion_matrix(TRUE, PRED).tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert metrics.confusion_matrix([1], [1], num_classes=3).tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_accuracy_by_hand_and_from_tensors():
    assert metrics.accuracy(TRUE, PRED) == 5 / 8
    assert metrics.accuracy(tn.tensor(np.array(TRUE)), np.array(PRED)) == 5 / 8
    assert metrics.accuracy([], []) == 0.0


def test_precision_recall_f1_by_hand():
    p, r, f1, support = metrics.precision_recall_f1(metrics.confusion_matrix(TRUE, PRED))
    np.testing.assert_allclose(p, [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(r, [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(f1, [2 / 3, 1 / 2, 2 / 3])          # P = R gives F1 = P
    assert support.tolist() == [3, 2, 3]


def test_unequal_precision_and_recall():
    # class 1: predicted 4 times, right 1 time (P = 1/4); truly 2 times, found 1 time (R = 1/2)
    # F1 = 2 · (1/4)(1/2) / (3/4) = 1/3
    true, pred = [0, 0, 0, 1, 1], [1, 1, 1, 1, 0]
    p, r, f1, _ = metrics.precision_recall_f1(metrics.confusion_matrix(true, pred))
    assert p[1] == pytest.approx(0.25) and r[1] == pytest.approx(0.5) and f1[1] == pytest.approx(1 / 3)
    assert p[0] == 0 and r[0] == 0 and f1[0] == 0


def test_never_predicted_class_counts_as_zero_not_nan():
    p, r, f1, _ = metrics.precision_recall_f1(metrics.confusion_matrix([0, 1, 2], [0, 1, 1]))
    assert p.tolist() == [1.0, 0.5, 0.0] and r.tolist() == [1.0, 1.0, 0.0] and not np.isnan(f1).any()


def test_report_macro_averages_and_json_types():
    report = metrics.classification_report(TRUE, PRED, num_classes=3)
    assert report["accuracy"] == 5 / 8 and report["samples"] == 8
    assert report["macro"]["precision"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert report["per_class"][1] == {"class": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    import json
    assert json.loads(json.dumps(report)) == report
    text = metrics.format_report(report)
    assert "accuracy: 62.50% (5 of 8 right, 3 wrong)" in text and "macro" in text
    assert "0 taken for 1 (1×)" in text


def test_micro_precision_equals_accuracy_against_brute_force():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 10, 500)
    pred = np.where(rng.random(500) < 0.7, true, rng.integers(0, 10, 500))
    cm = metrics.confusion_matrix(true, pred, 10)
    for t in range(10):
        for q in range(10):
            assert cm[t, q] == np.sum((true == t) & (pred == q))
    assert np.trace(cm) / cm.sum() == metrics.accuracy(true, pred)


def test_bad_inputs():
    with pytest.raises(ValueError, match="y_pred has 2"):
        metrics.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.accuracy([0.5], [1.0])
    with pytest.raises(ValueError, match="0..1"):
        metrics.confusion_matrix([0, 2], [0, 0], num_classes=2)
