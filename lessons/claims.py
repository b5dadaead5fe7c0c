"""The article claims the lessons check, A1–A92: where each is, what it says, and how its verdict is
reached (a Rule on measured numbers, or a Judgement on the text; see verdicts.py).

    python lessons/claims.py            # prints lessons/claims.md as generated from this file
    python lessons/claims.py --write    # writes it

Articles: 000–004 are the five Chinese MNIST articles "从零开始大模型开发与微调" that the lessons
follow ("§" and "L" give their section and line). The lesson named runs the check; its
``@claim("A17")`` function returns what it measured, and the rule below turns that into the verdict.
"""
import sys
from pathlib import Path

from verdicts import Claim, Judgement, Rule, within

TOL = 1e-9      # float64 formulas vs references: rounding of short sums is ~1e-15, an index or sign slip is O(1)
WHY_TOL = "max difference ≤ 1e-9 (float64 rounding of these short sums is ~1e-15; any indexing or sign slip gives O(1))"
POINT = 0.005   # half a point of test accuracy: 50 of 10,000 test images, ≈3 binomial standard errors near 98 %
WHY_POINT = "0.5 point = 50 of 10,000 test images, about three binomial standard errors of an accuracy near 98 %"


def formula(extra=""):
    """The rule of a formula claim: the article's formula, in NumPy, equals an independent NumPy reference."""
    return Rule(WHY_TOL + extra, lambda err: "correct" if err <= TOL else "wrong",
                [({"err": 1e-15}, "correct"), ({"err": 1e-3}, "wrong")])


def holds(why, key="holds"):
    """A yes/no fact measured by the lesson (a shape, a byte signature, a name in a listing)."""
    return Rule(why, lambda **m: "correct" if m[key] else "wrong",
                [({key: True}, "correct"), ({key: False}, "wrong")], inputs=(key,))


def equals(why, key, right, other):
    """Correct iff the measured ``key`` equals ``right``; ``other`` is a value on the wrong side, for the tests."""
    return Rule(why, lambda **m: "correct" if m[key] == right else "wrong",
                [({key: right}, "correct"), ({key: other}, "wrong")], inputs=(key,))


def fails(why, key):
    """A yes/no fact whose presence makes the claim wrong (an undefined name, a crash)."""
    return Rule(why, lambda **m: "wrong" if m[key] else "correct",
                [({key: True}, "wrong"), ({key: False}, "correct")], inputs=(key,))


def _a13(acc_small, acc_full):
    if acc_full < 0.97:
        return "wrong"
    return "ambiguous" if acc_full - acc_small > POINT else "correct"


def _a15(err_xcorr, err_flipped):
    if err_xcorr <= TOL:
        return "correct"
    return "ambiguous" if err_flipped <= TOL else "wrong"


def _a26(literal_hw, pool_hw, strided_err):
    if literal_hw == pool_hw:
        return "correct"
    return "ambiguous" if strided_err == 0 else "wrong"


def _a45(map_hw, code_fc):
    if map_hw != (13, 13):
        return "wrong"
    return "correct" if code_fc == (169, 10) else "ambiguous"


def _a64(code_runs, acc):
    if code_runs:
        return "correct" if acc >= 0.983 - POINT else "wrong"
    return "unverifiable" if acc >= 0.983 - POINT else "wrong"


def _a65(acc):
    if within(acc, 0.98, POINT):
        return "correct"
    return "ambiguous" if acc > 0.98 else "wrong"


def _a72(gain_few, se_few, gain_many, se_many, steps_ratio):
    clear = max(POINT, 2 * se_few)                      # a gain is counted only beyond 0.5 point and 2 s.e.
    better = gain_few > clear and gain_many >= -max(POINT, 2 * se_many)
    faster = steps_ratio <= 0.5
    if better and faster:
        return "correct"
    if gain_few < -clear and steps_ratio > 1:
        return "wrong"
    return "ambiguous"


def _a80(moderate_drop, shift_drop, large_drop):
    if moderate_drop <= 0.05 and large_drop <= 0.10:
        return "correct"
    return "ambiguous" if moderate_drop <= shift_drop else "wrong"


def _a73(right_before, right_after, n):
    gained = right_after - right_before                 # whole images, so 20 of 10,000 is exactly the 0.2 % margin
    return "correct" if 500 * gained > n else ("wrong" if 500 * gained < -n else "ambiguous")


def _three_way(gain, up, down):
    return "correct" if gain > up else ("wrong" if gain < down else "ambiguous")


C = Claim
ALL = [
    # ── lesson 01: the files ──────────────────────────────────────────────────────────────────
    C("A1", "01", "000", "§1.3 (L13)", "60k training + 10k test images, 28×28 grey, digits 0–9",
      Rule("correct iff the IDX headers give 60,000 and 10,000 images of 28×28 and the labels are exactly 0–9",
           lambda n_train, n_test, hw, labels: "correct" if (n_train, n_test, hw, labels) == (60000, 10000, (28, 28), tuple(range(10))) else "wrong",
           [(dict(n_train=60000, n_test=10000, hw=(28, 28), labels=tuple(range(10))), "correct"),
            (dict(n_train=70000, n_test=10000, hw=(28, 28), labels=tuple(range(10))), "wrong")])),
    C("A2", "01", "002", "§1, §2.3 (L5, L23)", "Modified NIST; 60,000 training and 10,000 test samples",
      Rule("correct iff the headers count 60,000 training and 10,000 test images",
           lambda n_train, n_test: "correct" if (n_train, n_test) == (60000, 10000) else "wrong",
           [(dict(n_train=60000, n_test=10000), "correct"), (dict(n_train=60000, n_test=9000), "wrong")])),
    C("A3", "01", "001", "§1 (L11), §2.3 (L31, L36)", "70,000 training images and 10,000 test images",
      equals("correct iff the training file holds 70,000 images", "n_train", 70000, 60000)),
    C("A4", "01", "001", "§2.3 (L37)", "MNIST images are PNG files, usable without preprocessing",
      holds("correct iff a file (or its decompressed content) starts with the PNG signature 89 50 4E 47", "png")),
    C("A5", "01", "001", "§2.3 (L31)", "MNIST is provided by NIST",
      Judgement("ambiguous", "history, not a measurement: NIST supplied the source images (SD-1, SD-3); "
                             "LeCun, Cortes and Burges assembled MNIST from them")),
    C("A6", "01", "004", "§2.4 (L29)", "MNIST contains 60,000 images",
      Rule("correct iff train + test = 60,000; ambiguous if 60,000 is one of the two splits; else wrong",
           lambda n_train, n_test: "correct" if n_train + n_test == 60000 else ("ambiguous" if 60000 in (n_train, n_test) else "wrong"),
           [(dict(n_train=50000, n_test=10000), "correct"), (dict(n_train=60000, n_test=10000), "ambiguous"),
            (dict(n_train=50000, n_test=20000), "wrong")])),
    C("A7", "01", "000", "§2.3 (L29)", "28×28 greyscale, pixel values 0–255",
      Rule("correct iff the pixels are uint8 with minimum 0 and maximum 255",
           lambda dtype, lo, hi: "correct" if (dtype, lo, hi) == ("uint8", 0, 255) else "wrong",
           [(dict(dtype="uint8", lo=0, hi=255), "correct"), (dict(dtype="uint8", lo=0, hi=254), "wrong")])),
    # ── lesson 02: preprocessing ──────────────────────────────────────────────────────────────
    C("A8", "02", "000", "§3.1 (L39); 001 §3.2 (L53); 002 §5.1 (L123–125)", "scale the pixels to 0–1 (x / 255)",
      Rule("correct iff x/255 has minimum 0 and maximum 1 exactly",
           lambda lo, hi: "correct" if (lo, hi) == (0.0, 1.0) else "wrong",
           [(dict(lo=0.0, hi=1.0), "correct"), (dict(lo=0.0, hi=255.0), "wrong")])),
    C("A9", "02", "001", "§3.2 (L53) vs §5.2 (L197–200)", "the text: preprocessing scales the pixels to [0, 1]; the code: ToTensor() then Normalize((0.5,),(0.5,))",
      Rule("correct iff every pixel, preprocessed as the code does, lies in [0, 1]",
           lambda lo, hi: "correct" if lo >= 0 and hi <= 1 else "wrong",
           [(dict(lo=0.0, hi=1.0), "correct"), (dict(lo=-1.0, hi=1.0), "wrong")])),
    C("A10", "02", "003", "§3.2.1 (L76, L81), §5.2 (L274)", "Normalize((0.1307,),(0.3081,)) uses MNIST's mean and std",
      Rule("correct iff the training pixels' mean and std are within 5e-4 of 0.1307 and 0.3081 (4-decimal "
           "constants; 5e-4 still separates the training set from the test set, whose mean is 0.1325)",
           lambda mean, std: "correct" if within(mean, 0.1307, 5e-4) and within(std, 0.3081, 5e-4) else "wrong",
           [(dict(mean=0.13066, std=0.30811), "correct"), (dict(mean=0.1325, std=0.3105), "wrong")])),
    C("A11", "10", "004", "§5.2 (L162–163)", "004 trains on ToTensor() inputs in [0, 1], without Normalize, and still does well",
      Rule("after one epoch: wrong if standardised inputs beat [0, 1] inputs by more than 1 point (then "
           "Normalize matters); else correct if both exceed 97 % (1 point under the articles' 98 %); else ambiguous",
           lambda acc01, acc_std: "wrong" if acc_std - acc01 > 0.01 else ("correct" if min(acc01, acc_std) > 0.97 else "ambiguous"),
           [(dict(acc01=0.9815, acc_std=0.9863), "correct"), (dict(acc01=0.95, acc_std=0.985), "wrong"),
            (dict(acc01=0.96, acc_std=0.965), "ambiguous")])),
    C("A12", "02", "002", "§5.1 (L128–129)", "to_categorical(y, 10) makes one-hot labels",
      Rule("correct iff every row has ten entries, sums to 1, and its argmax is the label",
           lambda width, one_hot_rows: "correct" if width == 10 and one_hot_rows == 1.0 else "wrong",
           [(dict(width=10, one_hot_rows=1.0), "correct"), (dict(width=10, one_hot_rows=0.9), "wrong")])),
    C("A13", "10", "001", "§2.3 (L35–36) vs 003 §3.3.2 (L157)", "MNIST is large, enough for training (001) vs small (003)",
      Rule("LeNet, same number of steps for every size: wrong if all 60,000 images give < 97 % (not enough "
           "for training); ambiguous if 60,000 beat 5,000 by more than 0.5 point (enough, yet more data still "
           "helps: 'small' has a point); correct if the curve is flat by then (data is not the limit). " + WHY_POINT,
           _a13, [(dict(acc_small=0.985, acc_full=0.987), "correct"), (dict(acc_small=0.96, acc_full=0.985), "ambiguous"),
                  (dict(acc_small=0.90, acc_full=0.95), "wrong")])),
    C("A14", "02", "002", "§3.1 (L39) vs §5.1", "preprocessing includes cleaning, augmentation and standardisation",
      Rule("the article's code is searched for the three steps: correct if all three appear, ambiguous if "
           "some or none do (the sentence describes general practice its own code does not follow)",
           lambda kinds_found: "correct" if kinds_found == 3 else "ambiguous",
           [(dict(kinds_found=3), "correct"), (dict(kinds_found=0), "ambiguous")])),
    # ── lesson 04: convolution ────────────────────────────────────────────────────────────────
    C("A15", "04", "000", "§4.1 (L72–74)", "CNN convolution = Σ f(x−u, y−v)·g(u,v) (kernel flipped)",
      Rule("the formula (NumPy loop) against the cross-correlation a CNN layer computes (NumPy sliding "
           "windows), Sobel kernel: correct if equal; ambiguous if equal only after a 180° kernel turn (right "
           "as mathematics, and a learned kernel absorbs the turn); else wrong. " + WHY_TOL, _a15,
           [(dict(err_xcorr=1e-15, err_flipped=1e-15), "correct"), (dict(err_xcorr=7.96, err_flipped=1e-15), "ambiguous"),
            (dict(err_xcorr=7.96, err_flipped=3.0), "wrong")])),
    C("A16", "04", "000", "§4.1 (L76)", "k is the kernel size",
      Rule("count the terms of Σ_{u=−k..k}: correct iff the kernel side they make is k (for k = 1)",
           lambda k, side: "correct" if side == k else "wrong",
           [(dict(k=1, side=1), "correct"), (dict(k=1, side=3), "wrong")])),
    C("A17", "04", "002", "§4.1 (L66–69)", "Y[i,j] = Σ_m Σ_n X[i+m, j+n]·K[m,n] is the conv layer",
      formula(": the formula's loop vs a conv layer's cross-correlation by NumPy sliding windows")),
    C("A18", "04", "004", "§4.1 (L91–100)", "y_ij = Σ_m Σ_n x_{i+m,j+n}·w_mn + b",
      formula(": the six-loop formula (channels summed, bias added) vs NumPy einsum over sliding windows")),
    C("A19", "04", "001", "§4.1 (L89–95)", "output = input ⊙ kernel + bias (⊙ = convolution)",
      Judgement("ambiguous", "notation: ⊙ is declared as convolution here (L95), and so read the formula is right; but "
                             "⊙ usually denotes the element-wise product, and the article itself later uses it between "
                             "patches and K (L133, A21)")),
    C("A20", "04", "001", "§4.2 (L119), §4.3 (L145)", "X ∈ R^{28×28}, K ∈ R^{3×3} → Y ∈ R^{28×28}",
      Rule("output sizes by the loop formula: correct if 28×28 without padding; ambiguous if only with padding 1 "
           "(which the article does not state, and its code does not use); else wrong",
           lambda hw_pad0, hw_pad1: "correct" if hw_pad0 == (28, 28) else ("ambiguous" if hw_pad1 == (28, 28) else "wrong"),
           [(dict(hw_pad0=(28, 28), hw_pad1=(30, 30)), "correct"), (dict(hw_pad0=(26, 26), hw_pad1=(28, 28)), "ambiguous"),
            (dict(hw_pad0=(26, 26), hw_pad1=(27, 27)), "wrong")])),
    C("A21", "04", "001", "§4.2 (L125–139)", "derivation Y = Σ(Xᵢ⊙K) = (ΣXᵢ)⊙K = X⊙K",
      Judgement("wrong", "a derivation that ends at the definition it set out to derive is circular; the lesson "
                         "shows the one true step (linearity) and that summing patches gives a scalar")),
    C("A22", "04", "001", "§4.3 (L151–156, L160–164)", "Y₁ = X⊙K₁ + b₁ = max(0, X⊙K₁) + b₁, then Y₂ = max(0, Y₁)",
      equals("correct iff the two sides of the equality agree at every position of the 26×26 map", "n_differ", 0, 102)),
    C("A28", "04", "003", "§4.2.1 (L198–204)", "conv layer f_θ(x) = Σᵢ θᵢ·f(gᵢ(x))",
      Rule("wrong if the formula goes negative where a Conv+ReLU layer cannot; ambiguous otherwise (the sign "
           "test alone cannot show the formula right)",
           lambda formula_min, layer_min: "wrong" if formula_min < 0 <= layer_min else "ambiguous",
           [(dict(formula_min=-3.8, layer_min=0.0), "wrong"), (dict(formula_min=0.0, layer_min=0.0), "ambiguous")])),
    C("A43", "04", "004", "§4.3 (L116)", "28×28 input, 3×3 kernel, stride 1 → 26×26",
      Rule("correct iff the loop formula without padding gives 26×26",
           lambda hw: "correct" if hw == (26, 26) else "wrong",
           [(dict(hw=(26, 26)), "correct"), (dict(hw=(28, 28)), "wrong")])),
    # ── lesson 05: pooling ────────────────────────────────────────────────────────────────────
    C("A24", "05", "001", "§4.3 (L166–172)", "max pooling of Y₂: Y₃ = max(Y₂)",
      equals("correct iff max(Y₂) as written is a map (2-D) like a pooling layer's output; a scalar is global pooling", "ndim", 2, 0)),
    C("A25", "05", "001", "§4.1 (L105–111)", "max pooling: output = max(input_ij)",
      Rule("window and stride are not given: correct if the plausible readings (2×2 window, stride 1 or 2) give "
           "the same output shape, ambiguous if they differ",
           lambda shapes: "correct" if len(set(shapes)) == 1 else "ambiguous",
           [(dict(shapes=((14, 14), (14, 14))), "correct"), (dict(shapes=((27, 27), (14, 14))), "ambiguous")])),
    C("A26", "05", "002", "§4.2 (L73–77)", "max pooling: Y[i,j] = max_{m,n} X[i+m, j+n]",
      Rule("as written (stride 1) against MaxPool(2): correct if the shapes agree; ambiguous if only the "
           "stride-2 form max X[2i+m, 2j+n] equals the pool (exactly); else wrong", _a26,
           [(dict(literal_hw=(14, 14), pool_hw=(14, 14), strided_err=0.0), "correct"),
            (dict(literal_hw=(27, 27), pool_hw=(14, 14), strided_err=0.0), "ambiguous"),
            (dict(literal_hw=(27, 27), pool_hw=(14, 14), strided_err=1.0), "wrong")])),
    C("A27", "05", "003", "§4.2.2 (L208–214)", "h_i = max_{j∈S_i} f_θ(x_j), S_i the pooling window",
      formula(": max over the 196 windows S_i (loop) vs NumPy reshape-max of 2×2 blocks")),
    C("A39", "05", "003", "L99–100; 000 L110", "relu(max_pool2d(conv(x), 2)), ReLU after the pool, is the usual conv → ReLU → pool",
      formula(": relu(maxpool(x)) vs maxpool(relu(x)) in NumPy, 8×16×24×24 random values (the order does not matter)")),
    C("A44", "05", "004", "§4.3 (L118)", "pooling turns the 26×26 feature map into 13×13",
      Rule("correct iff 2×2 max pooling (NumPy reshape-max) of a 26×26 map gives 13×13",
           lambda hw: "correct" if hw == (13, 13) else "wrong", [(dict(hw=(13, 13)), "correct"), (dict(hw=(12, 12)), "wrong")])),
    C("A81", "05", "004", "§3.1 (L48), §3.2 (L56); 003 §4.1.1 (L179, size only)", "pooling reduces spatial size and improves robustness",
      Rule("size: the pool must keep fewer values; robustness: the share of active values unchanged by a 1-px "
           "shift, after vs before pooling: correct if more than 5 points higher, wrong if more than 5 points "
           "lower or the size does not shrink, else ambiguous (5 points: well above the spread between runs "
           "of 50 or 200 digits)",
           lambda size_ratio, same_before, same_after: "wrong" if size_ratio >= 1 else _three_way(same_after - same_before, 0.05, -0.05),
           [(dict(size_ratio=0.25, same_before=0.01, same_after=0.26), "correct"),
            (dict(size_ratio=0.25, same_before=0.20, same_after=0.22), "ambiguous"),
            (dict(size_ratio=0.25, same_before=0.30, same_after=0.10), "wrong"),
            (dict(size_ratio=1.0, same_before=0.01, same_after=0.26), "wrong")])),
    C("A84", "05", "000", "§3.2 (L46); 001 §3.1 (L49), §4.1 (L87); 002 §4.1 (L63); 003 §4.4 (L247)", "CNNs are good at extracting local features",
      Judgement("correct", "a description of what convolution is: every unit sees a small window (the lesson "
                           "measures the receptive fields); 'good at' is not a measured quantity")),
    # ── lesson 03: autograd, ReLU and Linear ──────────────────────────────────────────────────
    C("A23", "03", "001", "§4.1 (L99–103)", "ReLU: output = max(0, input)",
      formula(": max(0, x) vs a ReLU layer's definition x·1[x > 0] in NumPy, on 24 values")),
    C("A29", "03", "002", "§4.3 (L79–87)", "fully connected layer: Y = W·X + b",
      formula(": W·x + b per sample (column x, loops) vs a Linear layer's x Wᵀ + b (NumPy einsum) on a batch")),
    # ── lesson 06: the models ─────────────────────────────────────────────────────────────────
    C("A38", "06", "003", "§3.2.2 (L93–104); 000 §5 (L104–110)", "M-A: conv(1,10,5), conv(10,20,5), view(-1, 320), fc1 320→50",
      equals("correct iff the layers produce 20·4·4 = 320 features per image (what view(-1, 320) needs), by the "
           "output-size formula ⌊(H + 2p − k)/s⌋ + 1", "features", 320, 500)),
    C("A40", "06", "002", "§5.2 (L134–147)", "Keras M-B: Conv32 → pool → Conv64 → pool → Flatten → 128 → 10",
      equals("correct iff Flatten gets 64·5·5 = 1,600 features (output-size formula), what Dense(128) then takes", "features", 1600, 3136)),
    C("A41", "06", "001", "§5.2 (L233–235, L244)", "M-C: Conv2d(1,32,3), Conv2d(32,64,3), fc1 = Linear(64·7·7, 128), view(-1, 64·7·7)",
      equals("correct iff the unpadded layers give the 64·7·7 = 3,136 features per image that view and fc1 declare "
           "(output-size formula)", "features", 3136, 1600)),
    C("A42", "06", "003", "§4.3 (L227–237), §5.2 (L287–297); 004 §5.2 (L143–156)", "M-D: padded convs, view(-1, 64·7·7), fc1 3136→128",
      equals("correct iff the padded layers give 3,136 features per image (output-size formula)", "features", 3136, 1600)),
    C("A45", "06", "004", "§4.3 (L120)", "the FC layer flattens the 13×13 map into a 10-neuron classifier",
      Rule("wrong if the toy net's pool does not give 13×13; correct if the article's code also flattens 169 → 10; "
           "ambiguous if only a one-filter toy net does (the code's fc1 is 3,136 → 128)", _a45,
           [(dict(map_hw=(13, 13), code_fc=(169, 10)), "correct"), (dict(map_hw=(13, 13), code_fc=(3136, 128)), "ambiguous"),
            (dict(map_hw=(14, 14), code_fc=(3136, 128)), "wrong")])),
    C("A46", "06", "003", "§4.1.1 (L180)", "fully connected layers map low-dimensional features to a high-dimensional space",
      Rule("correct iff some fully connected layer of the articles' models maps to more dimensions than it takes",
           lambda n_up: "correct" if n_up > 0 else "wrong", [(dict(n_up=1), "correct"), (dict(n_up=0), "wrong")])),
    C("A47", "06", "003", "§5.3 (L340); 004 §5.3 (L207); 001 §5.3 (L299)", "two conv, two pool, one FC and one output layer (003); two FC (004); +dropout (001)",
      Rule("correct iff the padded CNN counts 2 conv, 2 pool, 2 linear, 0 dropout and 001's model 1 dropout",
           lambda counts, dropout_001: "correct" if counts == (2, 2, 2, 0) and dropout_001 == 1 else "wrong",
           [(dict(counts=(2, 2, 2, 0), dropout_001=1), "correct"), (dict(counts=(2, 2, 1, 0), dropout_001=1), "wrong")])),
    C("A48", "06", "004", "§2.1 (L17); 001 §2.1 (L19); all titles", "large models have millions to billions of parameters",
      Judgement("ambiguous", "a definition, not a fact to measure; by it none of the articles' own models (counted "
                             "by the lesson, all < 1 M parameters) is a large model")),
    C("A62", "06", "002", "§5.1–5.3 (L124, L140, L157)", "x_train (60000, 28, 28) fed to Conv2D(input_shape=(28,28,1)) without reshape",
      Judgement("ambiguous", "depends on the version, which the article does not give: Keras 2 / TF 1.x raise 'ValueError: "
                             "expected conv2d_input to have 4 dimensions'; recent tf.keras 2.x and Keras 3 models add the "
                             "missing trailing axis of size 1 themselves (not run: no Keras here)")),
    C("A85", "06", "000", "§2.1 (L19); 002 §2.1 (L15)", "a large model is a deep-learning language model / CNNs, RNNs, Transformers are large models",
      Judgement("ambiguous", "definitions that contradict each other: 'large' is about scale, not modality, and the "
                             "series calls small CNNs large")),
    C("A87", "06", "003", "§9 Q5 (L663–669)", "mixed-precision training reduces compute cost",
      Judgement("correct", "true on hardware with fast float16 arithmetic (Micikevicius et al., 'Mixed Precision "
                           "Training', ICLR 2018); this CPU can only show the halved memory and the logit error")),
    # ── lesson 07: softmax and cross-entropy ──────────────────────────────────────────────────
    C("A30", "07", "000", "§4.2 (L80–86)", "L = −Σ_{i=1}^{N} yᵢ log ŷᵢ, N = number of samples, yᵢ the label of sample i",
      Rule("the formula read as written (i over samples, yᵢ the integer label) against the mean cross-entropy "
           "(NumPy log-sum-exp): correct iff they agree within 1e-6 relative",
           lambda literal, mean_ce: "correct" if abs(literal - mean_ce) <= 1e-6 * abs(mean_ce) else "wrong",
           [(dict(literal=2.31, mean_ce=2.31), "correct"), (dict(literal=10225.8, mean_ce=2.31), "wrong")])),
    C("A31", "07", "002", "§4.4 (L89–97)", "L = −Σ_{i=1}^{N} yᵢ log ŷᵢ (N undefined)",
      Rule("N is undefined, so the best reading is i over the classes with one-hot y: ambiguous if that reading, "
           "averaged over the batch, equals the mean cross-entropy (within 1e-6 relative); wrong if even it does not",
           lambda onehot_form, mean_ce: "ambiguous" if abs(onehot_form - mean_ce) <= 1e-6 * abs(mean_ce) else "wrong",
           [(dict(onehot_form=2.31, mean_ce=2.31), "ambiguous"), (dict(onehot_form=23.1, mean_ce=2.31), "wrong")])),
    C("A32", "07", "003", "§4.1.2 (L182–192)", "ℓ(y, ŷ) = −Σ yᵢ log ŷᵢ with nn.CrossEntropyLoss",
      Rule("ambiguous if −Σ_c y_c log softmax_c (one-hot, averaged) equals nn.CrossEntropyLoss's definition "
           "mean(−log_softmax[n, yₙ]) in NumPy (the article leaves the logits and the mean unsaid); wrong if not. "
           + WHY_TOL, lambda err: "ambiguous" if err <= TOL else "wrong",
           [(dict(err=0.0), "ambiguous"), (dict(err=0.3), "wrong")])),
    C("A36", "07", "004", "§3.2 step 4 (L58)", "the fully connected layer maps each feature to class probabilities",
      Rule("correct iff the last Linear layer's outputs are probabilities (non-negative, rows sum to 1 within 1e-3)",
           lambda min_out, max_row_err: "correct" if min_out >= 0 and max_row_err <= 1e-3 else "wrong",
           [(dict(min_out=0.0, max_row_err=1e-7), "correct"), (dict(min_out=-0.7, max_row_err=1.4), "wrong")])),
    C("A37", "07", "004", "§3.2 step 5 (L60); 001/003/004 eval", "the class with the highest probability is the prediction (torch.max(outputs, 1))",
      equals("correct iff argmax of the logits equals argmax of softmax(logits) for every image", "agree", 1.0, 0.99)),
    # ── lesson 08: optimisers ─────────────────────────────────────────────────────────────────
    C("A33", "08", "002", "§4.5 (L101–107); 003 L114, L306; 001 L252; 004 L174; 002 L150", "SGD: θ = θ − η∇L(θ)",
      Judgement("correct", "the definition of plain gradient descent (tinynet's SGD is checked against it separately); "
                           "note that 003's listings train with momentum 0.9, a different update, and 001/004 with Adam")),
    C("A34", "08", "001", "§9.3 (L418); Adam is named or used in 000 §3.3 (L55), 001 L252, 002 L150, 004 L174", "Adam has adaptive learning rates",
      Rule("Adam by hand in NumPy, first step, on weights whose gradients range from 1e-4 to 5e3: correct iff the "
           "effective rate |step|/|g| differs between weights by more than 10× (a global rate would give 1×)",
           lambda rate_spread: "correct" if rate_spread > 10 else "wrong",
           [(dict(rate_spread=5e7), "correct"), (dict(rate_spread=1.0), "wrong")])),
    C("A35", "08", "001", "§9.3 (L415–421)", "SGD suits small batches (or small data) and is fast; Adam and RMSprop suit large-scale data",
      Judgement("ambiguous", "a rule of thumb without conditions; the lesson's one-epoch race (shown) ranks the "
                             "optimisers at one learning rate and budget, which can neither confirm nor refute it")),
    # ── lesson 09: the code listings ──────────────────────────────────────────────────────────
    C("A49", "09", "000", "§5 (L91–111)", "'example code for MNIST classification in PyTorch'",
      fails("wrong iff the listing does not parse (Python's ast); a complete example must at least parse (judged on "
            "the stored copy of the article, which ends inside the listing)", "syntax_error")),
    C("A50", "09", "001", "§5.2 (L258–259, L275–276)", "images = images.to(device)",
      fails("wrong iff 'device' is used in the listing and never bound", "device_undefined")),
    C("A51", "10", "001", "§5.2 (L237, L271–280)", "evaluation under torch.no_grad() without model.eval() (model has Dropout 0.5)",
      Rule("two dropout-on evaluations of the same weights: wrong if their predictions differ and eval mode scores "
           "at least as well (the results are random and biased low); correct if they never differ; else ambiguous",
           lambda n_differ, acc_eval, acc_dropout: "correct" if n_differ == 0 else ("wrong" if acc_eval >= acc_dropout else "ambiguous"),
           [(dict(n_differ=456, acc_eval=0.993, acc_dropout=0.988), "wrong"), (dict(n_differ=0, acc_eval=0.99, acc_dropout=0.99), "correct"),
            (dict(n_differ=3, acc_eval=0.98, acc_dropout=0.99), "ambiguous")])),
    C("A52", "09", "001", "§5.3 (L305–307)", "outer loop over batches, inner loop does forward/backward/update",
      fails("wrong iff the outer loop of the listing iterates over epochs", "outer_is_epochs")),
    C("A53", "09", "001", "§5.3 (L307)", "prints the training loss every 100 batches",
      Rule("correct iff (i+1) % 100 == 0 fires once per 100 batches of an epoch",
           lambda prints, batches: "correct" if prints == batches // 100 else "wrong",
           [(dict(prints=6, batches=600), "correct"), (dict(prints=0, batches=600), "wrong")])),
    C("A54", "10", "001", "§5.4 (L317–324)", "log: 'Step [100], Loss: 2.3085 … Epoch [10/10], Step [900], Loss: 0.6367', 98.3 %",
      Rule("wrong iff an epoch of batch 100 has fewer than 900 steps (so 'Step [900]' cannot be printed)",
           lambda steps_per_epoch: "correct" if steps_per_epoch >= 900 else "wrong",
           [(dict(steps_per_epoch=600), "wrong"), (dict(steps_per_epoch=938), "correct")])),
    C("A55", "09", "003", "§3.2.3 (L118)", "for i, data in enumerate(train_loader, 0) (§3.2.3)",
      fails("wrong iff the §3.2 snippets never bind train_loader", "undefined")),
    C("A56", "09", "003", "§3.2.4 (L136), with §3.2.2/§3.2.3 imports", "with torch.no_grad(): after only 'import torch.nn as nn' (§3.2)",
      fails("wrong iff 'torch' is used and never bound in the §3.2 snippets", "undefined")),
    C("A57", "09", "003", "§3.2.3 (L126), §5.2 (L318)", "if i % 2000 == 1999: print(...) with batch_size=64",
      Rule("correct iff the condition fires at least once in an epoch of batch 64",
           lambda prints: "correct" if prints > 0 else "wrong", [(dict(prints=1), "correct"), (dict(prints=0), "wrong")])),
    C("A58", "09", "003", "§5.4 (L348–550)", "log: 'Epoch 1/2, loss: 0.677', then '[1, 2000] loss: 0.028' … '[200, 2000] loss: 0.003'",
      Rule("correct iff the log's epochs fit range(2), the code prints progress lines at all, and some print "
           "statement has the 'Epoch 1/2' format",
           lambda log_epochs, prints, format_in_code: "correct" if log_epochs <= 2 and prints > 0 and format_in_code else "wrong",
           [(dict(log_epochs=2, prints=1, format_in_code=True), "correct"), (dict(log_epochs=200, prints=0, format_in_code=False), "wrong")])),
    C("A59", "09", "003", "§5.2 (L333) vs log (L550)", "print('…: %d %%' % (100 * correct / total)) shows '98.0 %'",
      holds("correct iff the print statement, run on 9,803 correct of 10,000, can show '98.0'", "shows_98_0")),
    C("A60", "09", "003", "§5.2 (L264–333)", "the complete §5.2 listing",
      Rule("correct iff the listing parses and uses no undefined name",
           lambda parses, n_undefined: "correct" if parses and n_undefined == 0 else "wrong",
           [(dict(parses=True, n_undefined=0), "correct"), (dict(parses=True, n_undefined=1), "wrong")])),
    C("A61", "10", "004", "§5.2 (L133–202)", "the complete listing; prints f'Epoch [..], Loss: {loss.item():.4f}' each epoch",
      Rule("correct iff its tinynet port trains: every batch loss finite and the test accuracy above chance (10 %) "
           "(lesson 09 finds that the listing parses with no undefined name)",
           lambda finite, acc: "correct" if finite and acc > 0.1 else "wrong",
           [(dict(finite=True, acc=0.98), "correct"), (dict(finite=False, acc=0.98), "wrong"), (dict(finite=True, acc=0.1), "wrong")])),
    C("A63", "09", "003", "§3.1 (L64)", "evaluate on a validation set and tune hyper-parameters",
      Rule("the PyTorch listings are searched for a validation split: correct if one is there; ambiguous if not "
           "(good advice the code does not follow: it evaluates on the test set only)",
           lambda validation_in_code: "correct" if validation_in_code else "ambiguous",
           [(dict(validation_in_code=True), "correct"), (dict(validation_in_code=False), "ambiguous")])),
    C("A74", "09", "003", "§1.4 (L31), §8.1 (L607–611); all five titles", "a complete code example of data preparation and fine-tuning is provided",
      Rule("the listings are searched for loading weights or freezing (load_state_dict, requires_grad, trainable, "
           "…): wrong if none appears; ambiguous if some does (a complete example needs more than a name)",
           lambda hits: "wrong" if hits == 0 else "ambiguous", [(dict(hits=0), "wrong"), (dict(hits=2), "ambiguous")])),
    C("A86", "09", "001", "§9.1 (L402)", "CNNs and variational autoencoders (VAE) are common image-recognition architectures",
      Judgement("wrong", "a VAE is a generative model (Kingma & Welling 2013), not a recognition architecture")),
    C("A88", "09", "001", "§7.3 (L370–372), refs (L425–429)", "papers 'Deep Learning: A Theoretical Perspective' (Bengio), He et al.; Bengio et al. 2006",
      Judgement("wrong", "the first two titles match no known paper; 'Learning Deep Architectures for AI' is Bengio alone, 2009")),
    C("A89", "09", "003", "§7.1 (L584)", "the 'Neural Networks and Deep Learning' course is taught by Fei-Fei Li",
      Judgement("wrong", "that course is Andrew Ng's (deeplearning.ai); Fei-Fei Li teaches Stanford's CS231n")),
    C("A90", "09", "001", "§7.2 (L366)", "Keras is an open-source library based on TensorFlow and Theano",
      Judgement("ambiguous", "true of old Keras (multi-backend); Keras 3 runs on TensorFlow, JAX and PyTorch, Theano is discontinued")),
    C("A91", "09", "001", "§8.1 (L380)", "large models have surpassed human accuracy on ImageNet",
      Judgement("ambiguous", "a narrow top-5 result (ResNet ≈3.6 % error vs one annotator's ≈5.1 %), not human accuracy in general")),
    C("A92", "09", "004", "§7.1 (L235); 001 §7.1 (L359)", "《动手学深度学习》 by 李沐 (Aston Zhang)",
      Judgement("correct", "the book is by Aston Zhang, Zachary C. Lipton, Mu Li (李沐) and Alexander J. Smola; 001's "
                           "reference [2] (L426) says 电子工业出版社 2020, but its Chinese editions are 人民邮电出版社's "
                           "(2019; PyTorch edition 2023)")),
    # ── lesson 10: the training recipes ───────────────────────────────────────────────────────
    C("A64", "10", "001", "§5.4 (L323, L326)", "R1 reaches 98.3 % test accuracy",
      Rule("if the published code runs, correct iff it reaches 98.3 % − 0.5 point; it does not run (A41, A50), so "
           "the fixed recipe decides: unverifiable if it reaches 98.3 % − 0.5 point (possible, but not from the "
           "code shown), wrong if it falls short. " + WHY_POINT, _a64,
           [(dict(code_runs=True, acc=0.985), "correct"), (dict(code_runs=True, acc=0.95), "wrong"),
            (dict(code_runs=False, acc=0.993), "unverifiable"), (dict(code_runs=False, acc=0.96), "wrong")])),
    C("A65", "10", "003", "§5.4 (L550, L553)", "R4: after two epochs the accuracy reaches 98.0 %",
      Rule("correct if within 0.5 point of 98.0 %; ambiguous if higher (the code does better than stated, so 98.0 % is at "
           "most a floor, not its result); wrong if lower. "
           + WHY_POINT, _a65, [(dict(acc=0.981), "correct"), (dict(acc=0.9887), "ambiguous"), (dict(acc=0.97), "wrong")])),
    C("A66", "10", "004", "§5.4 (L212–214)", "R5: accuracy usually above 98 %",
      Rule("correct iff most of the 10 epochs end above 98 % ('usually')",
           lambda share_above: "correct" if share_above > 0.5 else "wrong",
           [(dict(share_above=1.0), "correct"), (dict(share_above=0.3), "wrong")])),
    C("A67", "10", "002", "§5.3 (L153–157)", "R2 (Keras, batch 128, 10 epochs, validation_split cut off)",
      Judgement("unverifiable", "the article claims no result (its listing stops at validation_split); the lesson's "
                                "run is shown for reference")),
    C("A68", "10", "003", "§3.2.3 (L112–128)", "R3: LeNet, SGD 0.01 momentum 0.9, 2 epochs (batch size undefined)",
      Judgement("unverifiable", "no result is claimed and the batch size is undefined; the lesson's run (batch 64) is shown for reference")),
    C("A69", "10", "003", "§5.4 (L350–549)", "training loss '[k, 2000] loss: 0.003' (plateau from epoch 14 to 200)",
      Rule("R4's mean training loss per 200 batches: wrong if it never gets within 2× of 0.003 (a factor 2 allows "
           "for batch-to-batch noise in a 200-batch mean), correct if it does",
           lambda lowest: "wrong" if lowest > 2 * 0.003 else "correct", [(dict(lowest=0.04), "wrong"), (dict(lowest=0.004), "correct")])),
    C("A73", "10", "002", "§3.4 (L49–51)", "after the first training, fine-tuning improves generalisation and accuracy",
      Rule("one more epoch of R5 at lr/10, counted in whole test images: correct if the number classified right rises "
           "by more than 0.2 % of them (20 of 10,000), wrong if it falls by more, ambiguous in between, so exactly +20 "
           "is ambiguous (0.2 point ≈ two binomial standard errors at 99 % on 10,000 images)",
           _a73,
           [(dict(right_before=9900, right_after=9950, n=10000), "correct"),
            (dict(right_before=9910, right_after=9931, n=10000), "correct"),
            (dict(right_before=9910, right_after=9930, n=10000), "ambiguous"),
            (dict(right_before=9930, right_after=9910, n=10000), "ambiguous"),
            (dict(right_before=9931, right_after=9910, n=10000), "wrong"),
            (dict(right_before=9900, right_after=9850, n=10000), "wrong")])),
    # ── lesson 11: evaluation ─────────────────────────────────────────────────────────────────
    C("A76", "11", "000", "§3.4 (L58–64)", "accuracy, precision and recall definitions",
      Rule("the definitions applied per class (one vs rest) against brute-force counts over the confusion matrix: "
           "correct iff they agree within 1e-12", lambda err: "correct" if err <= 1e-12 else "wrong",
           [(dict(err=0.0), "correct"), (dict(err=0.01), "wrong")])),
    C("A77", "11", "002", "§3.5 (L55)", "evaluate with accuracy, the confusion matrix and other metrics",
      Judgement("correct", "advice about what to compute, which the lesson follows (the article's own code computes accuracy only)")),
    C("A78", "11", "001", "§3.2 step 4 (L59)", "compute the classification accuracy, recall and other metrics",
      Judgement("ambiguous", "'recall' of a 10-class problem is per class or averaged, which the article does not say; its code computes accuracy only")),
    # ── lesson 12: augmentation ───────────────────────────────────────────────────────────────
    C("A79", "12", "000", "§3.1 (L40)", "augmentation (random rotation, shift, scaling) improves generalisation",
      Rule("LeNet with and without augmentation, same steps: correct if accuracy on distorted test digits rises by "
           "more than 0.5 point and plain accuracy falls by no more than 0.5 point; wrong if both fall by more "
           "than 0.5 point; else ambiguous. " + WHY_POINT,
           lambda gain_plain, gain_distorted: "correct" if gain_distorted > POINT and gain_plain > -POINT
           else ("wrong" if gain_distorted < -POINT and gain_plain < -POINT else "ambiguous"),
           [(dict(gain_plain=0.014, gain_distorted=0.10), "correct"), (dict(gain_plain=-0.02, gain_distorted=-0.01), "wrong"),
            (dict(gain_plain=-0.02, gain_distorted=0.05), "ambiguous")])),
    C("A80", "12", "004", "§3.3 (L68)", "CNNs are fairly robust to rotation and scaling of the image",
      Rule("a CNN trained without augmentation, on changed test digits; drops in accuracy: moderate = the largest at "
           "±15° and ×0.7/×1.3, shift = at a 4-px shift, large = at 45°. Ink 10 px from the centre moves ≈2.6 px under "
           "a 15° turn and 3 px under ×0.7/×1.3, so the 4-px shift is the translation of comparable size (the change "
           "CNNs are credited with tolerating). Correct if moderate ≤ 5 points and large ≤ 10 (robust even to large "
           "turns); else ambiguous if moderate ≤ shift (at least as tolerant of them as of the comparable shift, but "
           "not robust to larger ones); wrong if rotation and scaling cost more than the comparable shift", _a80,
           [(dict(moderate_drop=0.02, shift_drop=0.30, large_drop=0.05), "correct"),
            (dict(moderate_drop=0.06, shift_drop=0.307, large_drop=0.38), "ambiguous"),
            (dict(moderate_drop=0.20, shift_drop=0.10, large_drop=0.50), "wrong")])),
    # ── lesson 13: RNN and ViT ────────────────────────────────────────────────────────────────
    C("A82", "13", "000", "§3.2 (L47)", "(for MNIST classification) RNNs can recognise the stroke order of handwritten digits",
      Rule("wrong iff an MNIST record holds only the 28×28 pixel bytes (no time axis, so no stroke order to recognise)",
           lambda record_bytes: "wrong" if record_bytes == 28 * 28 else "ambiguous",
           [(dict(record_bytes=784), "wrong"), (dict(record_bytes=784 + 200), "ambiguous")])),
    C("A83", "13", "000", "§3.2 (L48)", "Transformers can also be used for image classification",
      Rule("a tiny ViT's test accuracy: correct above 90 %, wrong below 20 % (twice chance), ambiguous between",
           lambda acc: "correct" if acc > 0.9 else ("wrong" if acc < 0.2 else "ambiguous"),
           [(dict(acc=0.96), "correct"), (dict(acc=0.6), "ambiguous"), (dict(acc=0.11), "wrong")])),
    # ── lesson 14: fine-tuning ────────────────────────────────────────────────────────────────
    C("A70", "14", "001", "§2.2 (L27), §3.2 step 5 (L61)", "freeze lower layers, fine-tune the top ones, keep the general features",
      Rule("correct iff freezing works as described: frozen tensors bit-identical after training, the unfrozen head "
           "moved, and the trainable counts are 402,826 (convs frozen) and 1,290 (only fc2)",
           lambda frozen_unchanged, head_moved, trainable: "correct" if frozen_unchanged and head_moved and trainable == (402826, 1290) else "wrong",
           [(dict(frozen_unchanged=True, head_moved=True, trainable=(402826, 1290)), "correct"),
            (dict(frozen_unchanged=False, head_moved=True, trainable=(402826, 1290)), "wrong")])),
    C("A71", "14", "000", "§2.2 (L23)", "fine-tuning usually adjusts the parameters and adds extra layers or modules",
      Rule("a new 5-way head on the pre-trained body, trained one epoch on digits 5–9: correct above 90 %, wrong "
           "below 40 % (twice the 20 % of chance), ambiguous between",
           lambda acc: "correct" if acc > 0.9 else ("wrong" if acc < 0.4 else "ambiguous"),
           [(dict(acc=0.986), "correct"), (dict(acc=0.7), "ambiguous"), (dict(acc=0.25), "wrong")])),
    C("A72", "14", "002", "§2.2 (L19); 004 §1 (L9); 004 §2.2 (L21): with little data", "fine-tuning greatly cuts training time and compute and improves generalisation",
      Rule("digits 5–9, full fine-tuning vs scratch, paired over 5 seeds: gain = mean accuracy difference after the "
           "same steps at the fewest (gain_few) and most (gain_many) labels, se its standard error; steps_ratio = steps "
           "fine-tuning needs to reach the stated accuracy / steps scratch needs. Correct if it generalises better "
           "(gain_few above 0.5 point and 2 s.e., gain_many not below −max(0.5 point, 2 s.e.)) and needs at most half "
           "the steps ('greatly cuts'); wrong if it is worse by that margin with few labels and slower; else "
           "ambiguous. " + WHY_POINT, _a72,
           [(dict(gain_few=0.05, se_few=0.01, gain_many=0.004, se_many=0.002, steps_ratio=0.2), "correct"),
            (dict(gain_few=0.05, se_few=0.01, gain_many=0.004, se_many=0.002, steps_ratio=0.8), "ambiguous"),
            (dict(gain_few=0.05, se_few=0.03, gain_many=0.004, se_many=0.002, steps_ratio=0.2), "ambiguous"),
            (dict(gain_few=-0.02, se_few=0.005, gain_many=-0.01, se_many=0.002, steps_ratio=1.5), "wrong")])),
    C("A75", "14", "003", "§6.3 (L577), §3.4 (L160–166), §6.1–6.2", "transfer MNIST models to other recognition tasks (plates, detection, faces)",
      Rule("Fashion-MNIST with few labels, same steps: the best use of the MNIST model (linear probe on its "
           "features, or full fine-tuning from it) against training from scratch: correct if it beats scratch by "
           "more than 1 point, wrong if it trails scratch by more than 1 point, ambiguous between (1 point: seed-"
           "to-seed spread of these small runs)",
           lambda best_transfer, scratch: _three_way(best_transfer - scratch, 0.01, -0.01),
           [(dict(best_transfer=0.86, scratch=0.83), "correct"), (dict(best_transfer=0.834, scratch=0.83), "ambiguous"),
            (dict(best_transfer=0.634, scratch=0.83), "wrong")])),
]
REGISTRY = {c.id: c for c in ALL}
LESSON_FILES = {p.name[:2]: p.name for p in Path(__file__).resolve().parent.glob("[0-9][0-9]_*.py")}


def _cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown():
    """lessons/claims.md: one row per claim, in id order."""
    rows = ["# The article claims the lessons check",
            "",
            "Generated by `python lessons/claims.py --write` from the registrations in `lessons/claims.py`; "
            "do not edit by hand. Articles 000–004 are the five MNIST articles the lessons follow "
            "(\"从零开始大模型开发与微调：实战MNIST手写体识别\"; their code listings, verbatim, are in "
            "`lessons/article_code/`); \"§\" is the article's section, \"L\" its line. *How decided*: **computed** claims get their verdict from numbers the "
            "lesson measures, by the rule shown; **judgement** claims are a reading of the text, with the reason. "
            "`python lessons/factcheck.py` runs the lessons and prints the verdicts.",
            "",
            "| id | article, where | the claim (our words) | checked by | how decided |",
            "|---|---|---|---|---|"]
    for c in sorted(ALL, key=lambda c: int(c.id[1:])):
        how = f"**{c.kind}**: " + (c.basis.why if c.kind == "computed" else f"*{c.basis.verdict}*, {c.basis.why}")
        rows.append(f"| {c.id} | {c.article} {_cell(c.where)} | {_cell(c.text)} | "
                    f"lessons/{LESSON_FILES.get(c.lesson, c.lesson)} | {_cell(how)} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    text = markdown()
    if "--write" in sys.argv[1:]:
        (Path(__file__).resolve().parent / "claims.md").write_text(text)
        print(f"wrote lessons/claims.md ({len(ALL)} claims)")
    else:
        print(text, end="")
