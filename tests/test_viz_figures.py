"""tinynet.viz.explain / explain_figure and ``tinynet predict --explain``: the figure holds what it
says (the model's own probabilities, saliency and feature maps), is a valid PNG, and every bad
--explain path is one line that writes nothing."""
import os
import re

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cli_run import run

import tinynet as tn
from tinynet import data, models, train
from tinynet.viz import explain, explain_figure, feature_maps, saliency

NORM = data.Normalize(0.1307, 0.3081)


def seven(path=None):
    page = np.ones((60, 50), np.float32)              # a dark 7 on light paper, not 28×28
    page[10:14, 10:40] = 0
    for i in range(14, 50):
        page[i, 38 - (i - 14) // 2: 42 - (i - 14) // 2] = 0
    if path is not None:
        matplotlib.image.imsave(path, page, cmap="gray", vmin=0, vmax=1)
    return page


def cnn():
    tn.manual_seed(0)
    return models.cnn()


def test_the_figure_shows_the_models_own_numbers():
    model, page = cnn(), seven()
    fig = explain_figure(model, page, classes=list("abcdefghij"), normalize=NORM, source="seven")
    try:
        x = NORM(data.mnist_style(page)[None, None].astype(np.float32))
        with tn.no_grad():
            p = model(tn.tensor(x)).softmax(axis=1).numpy()[0]
        best = int(p.argmax())
        axes = fig.get_axes()
        titles = [ax.get_title() for ax in axes]
        assert any(t.startswith("what the model saw: 28×28") for t in titles)
        bars = next(ax for ax in axes if ax.get_title().startswith("probabilities"))
        heights = [patch.get_width() for patch in bars.patches]
        np.testing.assert_allclose(heights[::-1], p, rtol=1e-6)         # class 0 drawn at the top
        assert [t.get_text() for t in bars.get_yticklabels()][::-1] == list("abcdefghij")
        sal_ax = next(ax for ax in axes if ax.get_title().startswith("saliency"))
        np.testing.assert_array_equal(sal_ax.images[0].get_array(), saliency(model, x[0], best))
        name, maps = feature_maps(model, x[0])[0]
        shown = [ax.images[0].get_array() for ax in axes if ax.images and ax.images[0].get_cmap().name == "RdBu_r"]
        assert len(shown) == 32 and all(np.array_equal(a, m) for a, m in zip(shown, maps))
        colour_bars = [ax.images[0].colorbar for ax in axes if ax.images and ax.images[0].colorbar is not None]
        assert len(colour_bars) == 2                                    # saliency and one of the feature maps
        assert [cb.ax.get_ylabel() for cb in colour_bars] == [f"|∂ score('{'abcdefghij'[best]}') / ∂ pixel|",
                                                              "response (0 = white)"]
        titles = [t.get_text() for t in fig.texts]
        assert f"tinynet reads seven as '{'abcdefghij'[best]}' (probability {p[best]:.2f})" in titles
    finally:
        plt.close(fig)


def test_explain_writes_a_png_that_decodes(tmp_path):
    out = explain(cnn(), seven(tmp_path / "seven.png"), tmp_path / "why.png", normalize=NORM)
    assert out == tmp_path / "why.png"
    image = matplotlib.image.imread(out)
    assert image.shape == (900, 1300, 4) and image[..., :3].std() > 0.1       # 13×9 in at 100 dpi, not blank
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seven.png", "why.png"]
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def test_a_model_without_convolutions_says_so(tmp_path):
    tn.manual_seed(0)
    fig = explain_figure(models.mlp(), seven(), normalize=NORM)
    try:
        assert any("no convolution layer" in t.get_text() for t in fig.texts)
        assert not any(ax.images and ax.images[0].get_cmap().name == "RdBu_r" for ax in fig.get_axes())
    finally:
        plt.close(fig)


def test_bad_arguments_are_one_line_and_cost_no_file(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="3 class names for a model with 10 outputs"):
        explain_figure(cnn(), seven(), classes=["a", "b", "c"])
    keep = tmp_path / "why.png"
    keep.write_bytes(b"an earlier figure")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, f, **kw: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="explain: cannot write .*why.png \\(No space left on device\\)"):
        explain(cnn(), seven(), keep)
    assert keep.read_bytes() == b"an earlier figure" and [p.name for p in tmp_path.iterdir()] == ["why.png"]


# --- tinynet predict --explain ---------------------------------------------------------------------

@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "run" / "checkpoint.npz"
    tn.manual_seed(0)
    train.save_checkpoint(path, models.cnn(), None, 1, "cnn", [], {"normalize": "mnist"})
    return path


def test_predict_explain_writes_the_figure(tmp_path, capsys, ckpt):
    image = seven(tmp_path / "seven.png")
    code, out, err = run(capsys, "predict", ckpt, tmp_path / "seven.png", "--explain", tmp_path / "why.png")
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'seven.png'}: ") and out.endswith(f"wrote {tmp_path / 'why.png'}\n")
    assert matplotlib.image.imread(tmp_path / "why.png").shape == (900, 1300, 4)
    assert image is not None


def one_line(code, err):
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1 and err.startswith("tinynet predict: error: "), err
    return err


@pytest.mark.parametrize("target, message", [
    ("missing/why.png", "the folder .*missing does not exist"),
    ("folder", "is a folder"),
    ("folder.png", "is a folder"),
    ("why.jpg", r"must end in .png, .svg, .pdf \(got '.jpg'\)"),
    ("why", "got 'no suffix'"),
    ("seven.png", "is .*seven.png, an input or another output"),
    ("pipe.png", "not a regular file"),
])
def test_hostile_explain_paths_are_one_line_each(tmp_path, capsys, ckpt, target, message):
    seven(tmp_path / "seven.png")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    code, out, err = run(capsys, "predict", ckpt, tmp_path / "seven.png", "--explain", tmp_path / target)
    assert out == ""                                        # refused before any work
    import re
    assert re.search(message, one_line(code, err)), err
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_explain_with_several_images_or_onto_the_other_outputs_is_refused(tmp_path, capsys, ckpt):
    seven(tmp_path / "a.png")
    seven(tmp_path / "b.png")
    code, out, err = run(capsys, "predict", ckpt, tmp_path / "a.png", tmp_path / "b.png", "--explain", tmp_path / "w.png")
    assert "give one IMAGE, not 2" in one_line(code, err) and out == ""
    code, out, err = run(capsys, "predict", ckpt, tmp_path / "a.png", "--save-input", tmp_path / "w.png",
                         "--explain", tmp_path / "w.png")
    assert "an input or another output" in one_line(code, err) and out == ""
    code, out, err = run(capsys, "predict", ckpt, tmp_path / "a.png", "--explain", "")
    assert "expected a path, got an empty one" in one_line(code, err)
    assert not (tmp_path / "w.png").exists()
