# %% [markdown]
# # Lesson 09 · Reading the articles' code like a reviewer
# The articles print code and "run results". Before training anything, we read the code the way
# Python would: parse it, look for names that are never defined, count what its loops and print
# statements would do, and compare with the logs the articles show. The listings are copied
# verbatim in `lessons/article_code/` (see its README).

# %%
from _common import ROOT, lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import ast
import builtins
import math
import re

from tinynet import data

args = lesson(9, "Reading the articles' code like a reviewer")
CODE = ROOT / "lessons" / "article_code"


def listing(*names):
    return "\n".join((CODE / n).read_text() for n in names)


def article_line(files, n):
    """Line ``n`` of the joined listing as the article's own line ("001 L258"): each file is named
    after the article line it starts at, and ``listing`` joins the files with one newline."""
    for name in files:
        count = (CODE / name).read_text().count("\n") + 1
        if n <= count:
            article, start = re.match(r"(\d+)_L(\d+)", name).groups()
            return f"{article} L{int(start) + n - 1}"
        n -= count
    raise ValueError(f"line {n} is past the end of {files}")


def undefined_names(source):
    """Names read somewhere but bound nowhere (a flow-insensitive scan: enough for these listings)."""
    bound, used = set(dir(builtins)), {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                used.setdefault(node.id, node.lineno)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(a.asname or a.name.split(".")[0] for a in node.names)
    return {name: line for name, line in used.items() if name not in bound}


# %% [markdown]
# ## 1. Does it even parse?

# %%
say("""
    1. Python's own parser (ast.parse) on every listing, and a scan for names used but never defined.
""")
listings = {"000 §5": ["000_L94-111.py.txt"], "001 §5.2": ["001_L191-282.py.txt"],
            "002 §5.1–5.3": ["002_L116-129.py.txt", "002_L135-150.py.txt", "002_L156-157.py.txt"],
            "003 §3.2 (four snippets)": ["003_L71-82.py.txt", "003_L88-104.py.txt", "003_L110-128.py.txt", "003_L134-144.py.txt"],
            "003 §5.2": ["003_L265-333.py.txt"], "004 §5.2": ["004_L134-202.py.txt"]}
report = {}
for name, files in listings.items():
    source = listing(*files)
    try:
        report[name] = ("parses", undefined_names(source))
    except SyntaxError as e:
        report[name] = (f"SyntaxError: {e.msg} (line {e.lineno})", {})
    status, missing = report[name]
    print(f"  {name:26s} {status:45s} undefined: {', '.join(f'{k} (line {v})' for k, v in missing.items()) or '—'}")


@claim("A49")
def _():
    status = report["000 §5"][0]
    return (dict(syntax_error=status.startswith("SyntaxError")),
            f"{status}: in the copy we have, the listing stops inside forward() where the stored text ends "
            f"mid-expression (002 and 004 also end mid-sentence, so the published page may go on); no training loop, no result")


@claim("A50")
def _():
    missing = report["001 §5.2"][1]
    at = article_line(listings["001 §5.2"], missing["device"]) if "device" in missing else "nowhere"
    return dict(device_undefined="device" in missing), (
        f"'device' is used ({at}) and never defined: NameError on the first batch, before the view() error of "
        "lesson 06 is reached")


@claim("A55")
def _():
    missing = report["003 §3.2 (four snippets)"][1]
    return dict(undefined="train_loader" in missing), (
        f"the §3.2 snippets never define train_loader (nor test_loader): undefined {sorted(missing)}")


say("""
    `import torch.nn as nn` binds the name nn only. The same holds for any package; with the
    standard library: after `import os.path as p`, is the name `os` defined?
""")
namespace = {}
exec("import os.path as p", namespace)
check("'import a.b as c' binds c, not a", "p" in namespace and "os" not in namespace)


@claim("A56")
def _():
    missing = report["003 §3.2 (four snippets)"][1]
    at = article_line(listings["003 §3.2 (four snippets)"], missing["torch"]) if "torch" in missing else "nowhere"
    return dict(undefined="torch" in missing), (
        f"'torch' is never bound in §3.2 (first used at {at}): NameError; 'import torch.nn as nn' binds only nn")


@claim("A60")
def _():
    status, missing = report["003 §5.2"]
    return dict(parses=status == "parses", n_undefined=len(missing)), (
        f"{status}, {len(missing)} undefined names; lesson 10 runs its tinynet port. It runs, but its progress print "
        "never fires (A57) and the log shown cannot come from it (A58, A59)")


# %% [markdown]
# ## 2. What the loops would do

# %%
say("""
    2. The loops' counters, from the real batch counts: tinynet's DataLoader over the 60,000
       training images with each article's batch size (the last batch is partial, as in PyTorch).
""")
train = data.mnist("train")
batches = {b: len(data.DataLoader(train, batch_size=b)) for b in (64, 100, 128)}
for b, k in batches.items():
    print(f"  batch {b:3d}: {k} batches per epoch (⌈60000/{b}⌉ = {math.ceil(60000 / b)}), last batch {60000 - (k - 1) * b} images")
check("batch counts are ⌈60000 / B⌉", all(k == math.ceil(60000 / b) for b, k in batches.items()))

tree = ast.parse(listing("001_L191-282.py.txt"))
loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
outer, inner = loops[0], loops[1]
print(f"  article 001, outer loop: for {ast.unparse(outer.target)} in {ast.unparse(outer.iter)};  "
      f"inner loop: for {ast.unparse(inner.target)} in {ast.unparse(inner.iter)}")
inner_body = [ast.unparse(s).split("(")[0] for s in inner.body]
prints_001 = sum((i + 1) % 100 == 0 for i in range(batches[100]))
check("001: the outer loop runs over epochs (10), the inner over batches (600 per epoch)",
      "num_epochs" in ast.unparse(outer.iter) and "train_loader" in ast.unparse(inner.iter))


@claim("A52")
def _():
    return dict(outer_is_epochs="num_epochs" in ast.unparse(outer.iter)), (
        f"outer: {ast.unparse(outer.iter)} = 10 epochs; inner: {ast.unparse(inner.iter)} = {batches[100]} batches "
        "per epoch; forward, backward and step all run in every inner iteration")


@claim("A53")
def _():
    return dict(prints=prints_001, batches=batches[100]), (
        f"(i+1) % 100 == 0 fires {prints_001} times per epoch of {batches[100]} batches, at steps 100…600 — never 900")


prints_003 = sum(i % 2000 == 1999 for i in range(batches[64]))
log = (CODE / "003_L349-550.log.txt").read_text()
epochs_in_log = sorted({int(m) for m in re.findall(r"^\[(\d+),", log, re.M)})
print(f"  article 003: `if i % 2000 == 1999` with {batches[64]} batches per epoch fires {prints_003} times; "
      f"its log shows {len(epochs_in_log)} epochs ({epochs_in_log[0]}…{epochs_in_log[-1]}) for range(2)")


@claim("A57")
def _():
    return dict(prints=prints_003), (
        f"an epoch has {batches[64]} batches < 2000: the condition never holds, {prints_003} lines are printed")


@claim("A58")
def _():
    fmt_in_code = "Epoch" in listing("003_L265-333.py.txt")
    return dict(log_epochs=len(epochs_in_log), prints=prints_003, format_in_code=fmt_in_code), (
        f"range(2) gives epochs 1–2 but the log lists {len(epochs_in_log)} ({epochs_in_log[0]}–{epochs_in_log[-1]}); "
        f"the code would print {prints_003} progress lines; no print statement has the 'Epoch 1/2' format "
        f"({'found' if fmt_in_code else 'not found'} in the code)")


printed = "Accuracy of the network on the 10000 test images: %d %%" % (100 * 9803 / 10000)
print(f"  article 003's final print, for 9,803 correct: {printed!r}")


@claim("A59")
def _():
    return dict(shows_98_0="98.0" in printed), (
        f"%d truncates: 98.03 prints as {printed.split(': ')[1]!r}; '98.0 %' cannot come from this line")


# %% [markdown]
# ## 3. What the code does not contain

# %%
say("""
    3. All five articles are titled "…development and fine-tuning". We search every listing for
       what fine-tuning needs (loading weights, freezing), and for a validation split.
""")
everything = listing(*sorted(p.name for p in CODE.glob("*.py.txt")))
words = ["requires_grad", "load_state_dict", "state_dict", "trainable", "freeze", "冻结", "pretrained", "torch.load"]
hits = {w: everything.count(w) for w in words}
print("  " + ", ".join(f"{w}: {k}" for w, k in hits.items()))
splits = {w: everything.count(w) for w in ("random_split", "validation_split", "val_loader", "valid")}
print("  validation: " + ", ".join(f"{w}: {k}" for w, k in splits.items()) + "  (002's validation_split is cut off mid-call)")


@claim("A74")
def _():
    return dict(hits=sum(hits.values())), (
        "none of the 14 listings loads a pre-trained model or freezes anything: " + ", ".join(f"{w} ×{k}" for w, k in hits.items()))


@claim("A63")
def _():
    pytorch_listings = listing("001_L191-282.py.txt", "003_L265-333.py.txt", "004_L134-202.py.txt")
    found = any(w in pytorch_listings for w in ("random_split", "val_loader", "valid"))
    return dict(validation_in_code=found), (f"the PyTorch listings have {'a' if found else 'no'} validation split and evaluate on the test set "
                         "only; tuning on test leaks it. Lesson 10 holds out 5,000 training images instead")


# %% [markdown]
# ## 4. Claims no script can check

# %%
say("""
    4. Some claims are about people, papers and history. They are checked against the sources
       (not computed) and listed here so that the fact-check table is complete.
""")


@claim("A86")
def _():
    return {}, "not computable: a VAE is a generative model (Kingma & Welling 2013), not a recognition architecture"


@claim("A88")
def _():
    return {}, ("not computable: the first two titles match no known paper (the author list is ResNet's); "
                     "'Learning Deep Architectures for AI' is Bengio alone, 2009")


@claim("A89")
def _():
    return {}, ("not computable: that course is Andrew Ng's (deeplearning.ai); Fei-Fei Li's is Stanford CS231n; "
                     "the book of that name is Nielsen's (or 邱锡鹏's)")


@claim("A90")
def _():
    return {}, "not computable: historically multi-backend (TF/Theano/CNTK); Keras 3 runs on TF, JAX and PyTorch; Theano is discontinued"


@claim("A91")
def _():
    return {}, "not computable: a narrow top-5 result (ResNet ≈3.6 % error vs one annotator's ≈5.1 %)"


@claim("A92")
def _():
    return {}, "not computable: by Aston Zhang, Zachary C. Lipton, Mu Li and Alexander J. Smola"


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(9, 2.8))
rows = [("001: batch 100, print when (i+1) % 100 == 0", batches[100], [i for i in range(batches[100]) if (i + 1) % 100 == 0]),
        ("003: batch 64, print when i % 2000 == 1999", batches[64], [i for i in range(batches[64]) if i % 2000 == 1999]),
        ("001's log claims a print at step…", batches[100], [899])]
for y, (label, n, marks) in enumerate(rows):
    ax.barh(y, n, color="C0", alpha=0.3)
    ax.plot(marks, [y] * len(marks), "v", color="C3" if y == 2 else "C1", ms=9)
ax.axvline(1999, color="C3", ls="--", lw=1)
ax.text(1999, 2.45, " i = 1999: never reached", color="C3", fontsize=8, va="center")
ax.set_yticks(range(3), [r[0] for r in rows], fontsize=8), ax.invert_yaxis()
ax.set_xlabel("batch index within one epoch"), ax.set_xlim(0, 2300)
ax.set_title("one epoch of batches (bars) and where the print statements fire (▼)")
savefig(fig, "print_schedules")

# %%
finish()
