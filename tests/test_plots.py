"""tinynet.plots: each figure function returns a Figure with the keys a reader needs (colour bars,
titles, labels), and each file function writes a valid PNG; curves.png explains a test loss below
the training loss exactly when there is one, with the reasons the run had."""
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from tinynet import plots


def colour_bars(fig):
    return [im.colorbar for ax in fig.axes for im in ax.images if im.colorbar is not None]


def history(*pairs):
    return [dict(epoch=e, train_loss=tr, test_loss=te, train_accuracy=0.9, test_accuracy=0.9)
            for e, (tr, te) in enumerate(pairs, 1)]


def note_of(fig):
    return [t.get_text() for t in fig.texts if "training loss" in t.get_text()]


def test_filters_are_on_one_zero_centred_diverging_scale_with_a_colour_bar():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10, 1, 5, 5)).astype(np.float32) + 0.3       # not symmetric around 0
    fig = plots.filters_figure(w)
    assert isinstance(fig, Figure)
    kernels = [im for ax in fig.axes for im in ax.images]
    assert len(kernels) == 10 and len(colour_bars(fig)) == 1
    limit = float(np.abs(w[:, 0]).max())
    for im in kernels:
        lo, hi = im.get_clim()
        assert lo == pytest.approx(-limit) and hi == pytest.approx(limit)    # white is 0, the same for all
        assert im.get_cmap().name == "RdBu_r"
    assert [ax.get_title() for ax in fig.axes if ax.images][:3] == ["#0", "#1", "#2"]
    assert "10 filters of 5×5" in fig._suptitle.get_text() and "red positive, blue negative" in fig._suptitle.get_text()


def test_the_second_convolution_is_summarised_by_kernel_norms():
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((4, 1, 3, 3)), rng.standard_normal((6, 4, 3, 3))
    w2[:, 2] = 0                                      # first-layer filter 2 unused by the second layer
    fig = plots.filters_figure(w1, w2)
    matrix = [im for ax in fig.axes for im in ax.images if im.get_array().shape == (6, 4)]
    assert len(matrix) == 1 and len(colour_bars(fig)) == 2
    data = np.asarray(matrix[0].get_array())
    np.testing.assert_allclose(data, np.sqrt((w2 ** 2).sum(axis=(2, 3))))
    assert (data[:, 2] == 0).all()
    ax = matrix[0].axes
    assert "first-layer filter" in ax.get_xlabel() and "second-layer filter" in ax.get_ylabel()
    assert "norm" in matrix[0].colorbar.ax.get_ylabel()


@pytest.mark.parametrize("bad", [np.zeros((4, 3, 3)), np.zeros((0, 1, 3, 3))])
def test_filters_refuse_a_weight_that_is_not_a_stack_of_kernels(bad):
    with pytest.raises(ValueError, match="filters_figure"):
        plots.filters_figure(bad)


def test_a_second_weight_that_does_not_read_the_first_layers_maps_is_refused():
    with pytest.raises(ValueError, match="next_weight"):
        plots.filters_figure(np.ones((4, 1, 3, 3)), np.ones((6, 5, 3, 3)))


def test_filters_png_is_a_valid_image(tmp_path):
    path = plots.first_layer_filters(np.ones((32, 1, 3, 3)), tmp_path / "f.png", next_weight=np.ones((64, 32, 3, 3)))
    with Image.open(path) as im:
        im.verify()
        assert im.format == "PNG" and im.size[0] > 1000


def test_the_curves_note_appears_exactly_when_test_loss_is_below_training_loss():
    assert plots.loss_gap_note(history((0.5, 0.6), (0.3, 0.35))) == ""
    assert note_of(plots.loss_curves_figure(history((0.5, 0.6), (0.3, 0.35)))) == []
    below = history((0.8, 0.4), (0.3, 0.35), (0.25, 0.2))
    note = plots.loss_gap_note(below)
    assert note.startswith("Test loss below training loss in epochs 1, 3:") and "mean over the epoch" in note
    (shown,) = note_of(plots.loss_curves_figure(below))
    assert shown.replace("\n", " ") == note
    assert plots.loss_gap_note([dict(epoch=1, train_loss=0.2, train_accuracy=0.9)]) == ""     # no test set


def test_the_curves_note_gives_the_reasons_this_run_had():
    h = history((0.8, 0.4))
    plain, dropout, both = (plots.loss_gap_note(h), plots.loss_gap_note(h, dropout=True),
                            plots.loss_gap_note(h, dropout=True, augment=True))
    assert "dropout" not in plain and "augment" not in plain and "epoch 1:" in plain
    assert "dropout" in dropout and "augment" not in dropout
    assert "dropout" in both and "augmented" in both


def test_the_curves_panels_say_what_they_show(tmp_path):
    fig = plots.loss_curves_figure(history((0.5, 0.6)), title="cnn")
    loss, acc = fig.axes
    assert "loss" in loss.get_title() and "accuracy" in acc.get_title()
    assert any("mean over the epoch" in t.get_text() for t in loss.get_legend().get_texts())
    path = plots.loss_curves(history((0.8, 0.4)), tmp_path / "c.png", dropout=True)
    with Image.open(path) as im:
        im.verify()


def test_the_confusion_heat_map_has_a_labelled_colour_bar(tmp_path):
    cm = np.array([[50, 2], [0, 48]])
    fig = plots.confusion_figure(cm, class_names=["a", "b"])
    (bar,) = colour_bars(fig)
    assert "log scale" in bar.ax.get_ylabel()
    assert plots.confusion_heatmap(cm, tmp_path / "m.png") == tmp_path / "m.png"
    with Image.open(tmp_path / "m.png") as im:
        assert im.format == "PNG"


def test_the_misclassified_grid_titles_true_and_predicted(tmp_path):
    images = np.zeros((5, 28, 28))
    fig = plots.misclassified_figure(images, [1, 2, 3, 4, 5], [1, 7, 3, 4, 0])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["2 → 7", "5 → 0"]
    assert "2 of 5" in fig._suptitle.get_text()


def test_the_cli_draws_the_second_convolution_when_it_reads_the_first_and_knows_about_dropout(tmp_path):
    from tinynet import models, nn
    from tinynet.cli.common import first_conv_filters, has_dropout
    assert has_dropout(models.cnn_dropout()) and not has_dropout(models.cnn())
    assert not has_dropout(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.0)))
    files = first_conv_filters(models.lenet(), tmp_path)
    with Image.open(files["filters"]) as im:
        assert im.format == "PNG" and im.size[0] > 1000        # two panels: the kernels and the 20 × 10 norms
    assert first_conv_filters(models.mlp(), tmp_path) == {}
