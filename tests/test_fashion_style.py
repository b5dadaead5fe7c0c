"""Pictures for a Fashion-MNIST model are prepared the way Fashion-MNIST was made (the item fills the
28×28 frame), not as digits (a 20×20 box centred by mass): ``data.fashion_style``, chosen by the
checkpoint's task in ``Predictor.load``, ``tinynet predict`` (and its ``--explain``) and the server."""
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import tinynet as tn
from tinynet import data, models, tasks, train, viz
from tinynet.predictor import Predictor
from data_tools.mnist import FASHION_MNIST_CLASSES, FASHION_SYSTEM_DIR, load_fashion_mnist
from cli_run import run


def page_with_item(h=40, w=20, shade=0.2, page=(100, 60), at=(30, 10)):
    """A dark ``h``×``w`` item of grey level ``shade`` on white paper."""
    a = np.ones(page, np.float32)
    a[at[0]:at[0] + h, at[1]:at[1] + w] = shade
    return a


def rows_and_columns(picture, level=0.5):
    return (np.flatnonzero((picture > level).any(axis=1)), np.flatnonzero((picture > level).any(axis=0)))


def test_the_item_fills_the_frame_on_its_longer_side_and_is_centred_on_the_other():
    out = data.fashion_style(page_with_item())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() == 0 and out.max() == pytest.approx(1)          # inverted: a light item on black
    rows, cols = rows_and_columns(out)
    assert (rows[0], rows[-1]) == (0, 27)                            # 40 rows → 28
    assert (cols[0], cols[-1]) == (7, 20)                            # 20 columns → 14, centred
    odd = data.fashion_style(page_with_item(h=28, w=21, page=(60, 60)))
    _, cols = rows_and_columns(odd)
    assert (cols[0], cols[-1]) == (4, 24)                            # 7 columns of padding: 4 before
    wide = data.fashion_style(page_with_item(h=10, w=50, page=(60, 80)))
    rows, cols = rows_and_columns(wide)
    assert (cols[0], cols[-1]) == (0, 27) and len(rows) in (5, 6) and abs(rows[0] + rows[-1] - 27) <= 1


def test_a_light_item_on_black_is_not_inverted_and_grey_levels_are_kept():
    a = np.zeros((28, 28), np.float32)
    a[:, 4:24] = 0.5
    a[10:18, 4:24] = 1.0                                             # texture inside the item stays
    out = data.fashion_style(a)
    assert out[0, 14] == pytest.approx(0.5, abs=1e-6) and out[14, 14] == pytest.approx(1.0, abs=1e-6)
    assert out[:, :2].max() == 0                                     # the black sides stay black


def test_digits_are_prepared_as_before():
    """The digit path is the same computation after the shared steps were split out of it."""
    out = data.mnist_style(page_with_item())
    rows, cols = rows_and_columns(out)
    assert len(rows) == 20 and len(cols) == 10                       # the 20×20 box, not the frame


@pytest.mark.parametrize("bad, message", [(np.zeros((0, 5)), "at least one pixel"), (np.ones((9, 9)), "blank"),
                                          (np.full((9, 9), np.nan), "NaN"), (np.ones((2, 3, 4)), "shape")])
def test_fashion_style_refuses_what_is_no_picture(bad, message):
    with pytest.raises(ValueError, match=message):
        data.fashion_style(bad)


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(), reason="Fashion-MNIST is not installed here")
def test_a_fashion_mnist_image_comes_back_as_it_was():
    """Prepared as Fashion-MNIST was made, its own images change little (the digit way does not)."""
    images, _ = load_fashion_mnist("test")
    same, digit_way = [], []
    for im in images[:300]:
        a = im / 255.0
        same.append(np.corrcoef(data.fashion_style(a).ravel(), a.ravel())[0, 1])
        digit_way.append(np.corrcoef(data.mnist_style(a).ravel(), a.ravel())[0, 1])
    assert np.mean(np.array(same) > 0.99) > 0.85 and np.percentile(same, 5) > 0.85
    assert np.median(digit_way) < 0.7


def test_the_style_follows_the_checkpoints_task():
    assert tasks.image_style("fashion") == "fashion"
    for task in ("mnist", "digits5-9", None, "no such task", ["fashion"], 3):
        assert tasks.image_style(task) == "mnist"
    with pytest.raises(ValueError, match="style must be one of 'mnist', 'fashion', got 'photo'"):
        Predictor(models.mlp(), style="photo")


@pytest.fixture()
def fashion_ckpt(tmp_path):
    tn.manual_seed(0)
    path = tmp_path / "fashion.npz"
    train.save_checkpoint(path, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"}, task="fashion",
                          method="full", class_names=list(FASHION_MNIST_CLASSES))
    return path


def test_predictor_load_and_tinynet_predict_prepare_as_fashion_mnist(fashion_ckpt, tmp_path, capsys):
    p = Predictor.load(fashion_ckpt)
    assert p.style == "fashion"
    digit, _ = p.prepare(page_with_item())
    assert np.array_equal(digit, data.fashion_style(page_with_item()))
    image, seen = tmp_path / "item.png", tmp_path / "seen.png"
    matplotlib.image.imsave(image, page_with_item(), cmap="gray", vmin=0, vmax=1)
    code, out, err = run(capsys, "predict", fashion_ckpt, image, "--save-input", seen, "--save-input-scale", "1")
    assert code == 0, err
    assert out.split(": ")[1].split("  (")[0] in FASHION_MNIST_CLASSES
    rows, _ = rows_and_columns(matplotlib.image.imread(seen)[..., 0])
    assert (rows[0], rows[-1]) == (0, 27)                            # what the model saw fills the frame


def test_explain_prepares_with_the_style_it_is_given(tmp_path, monkeypatch):
    model, seen = models.mlp(), []
    monkeypatch.setitem(data.STYLES, "fashion", lambda grey: seen.append(grey) or data.fashion_style(grey))
    fig = viz.explain_figure(model, page_with_item(), style="fashion")
    fig.clf()
    assert len(seen) == 1
    with pytest.raises(ValueError, match="style must be one of"):
        viz.explain_figure(model, page_with_item(), style="photo")
    assert not Path(tmp_path / "x.png").exists()


def test_predict_explain_prepares_the_fashion_way_too(fashion_ckpt, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setitem(data.STYLES, "fashion", lambda grey: calls.append(1) or data.fashion_style(grey))
    image = tmp_path / "item.png"
    matplotlib.image.imsave(image, page_with_item(), cmap="gray", vmin=0, vmax=1)
    code, _, err = run(capsys, "predict", fashion_ckpt, image, "--explain", tmp_path / "why.png")
    assert code == 0, err
    assert len(calls) == 2 and (tmp_path / "why.png").is_file()     # the prediction and its figure
