"""tinynet.viz.to_dot / graph_nodes / draw_graph: the autograd graph node by node, frozen vs
trainable, gradient norms, per-module clusters and depth= collapse, DOT escaping, rendering."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet import finetune, models, nn
from tinynet.viz import draw_graph, graph_nodes, to_dot

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")


def summary(nodes):
    return [(n["id"], n["kind"], n["lines"], n["module"]) for n in nodes]


def expression():
    x = tn.tensor(2.0, requires_grad=True)
    return x, x * x + 3 * x


def test_expression_graph_node_by_node():
    x, y = expression()
    nodes, edges = graph_nodes(y, {"x": x})
    assert summary(nodes) == [
        ("t0", "trainable", ["x", "scalar float32"], None),
        ("t1", "tensor", ["scalar float32"], None), ("f1", "op", ["Mul"], None),
        ("t2", "constant", ["constant 3", "scalar float32"], None),
        ("t3", "tensor", ["scalar float32"], None), ("f3", "op", ["Mul"], None),
        ("t4", "tensor", ["scalar float32", "output"], None), ("f4", "op", ["Add"], None)]
    assert [n["id"] for n in nodes if n["output"]] == ["t4"]
    assert edges == [("t0", "f1", False), ("t0", "f1", False), ("f1", "t1", False),     # x * x: x twice
                     ("t2", "f3", True), ("t0", "f3", False), ("f3", "t3", False),      # the constant: dashed
                     ("t1", "f4", False), ("t3", "f4", False), ("f4", "t4", False)]
    text = to_dot(y, {"x": x})
    assert text.startswith("digraph tinynet {\n") and text.endswith("}\n")
    assert 't0 [label="x\\nscalar float32", shape=ellipse, style=filled' in text
    assert 't4 [label="scalar float32\\noutput", shape=ellipse, peripheries=2];' in text
    assert text.count("t0 -> f1;") == 2 and 't2 -> f3 [style=dashed' in text


def test_output_is_deterministic_and_independent_of_object_ids():
    texts = {to_dot(expression()[1]) for _ in range(5)}
    assert len(texts) == 1 and "0x" not in texts.pop()


def small_net():
    tn.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_linear_layers_params_named_by_module_path_and_grouped_in_clusters():
    net = small_net()
    x = tn.tensor(np.ones((5, 3), np.float32))
    out = net(x).sum()
    nodes, edges = graph_nodes(out, dict(net.named_parameters()))
    kinds = {tuple(n["lines"]): (n["kind"], n["module"]) for n in nodes}
    assert kinds[("0.weight", "(4, 3) float32")] == ("trainable", "0")
    assert kinds[("2.bias", "(2,) float32")] == ("trainable", "2")
    ops = [(n["lines"][0], n["module"]) for n in nodes if n["kind"] == "op"]
    assert ops == [("Linear", "0"), ("ReLU", None), ("Linear", "2"), ("Sum", None)]
    assert kinds[("(5, 3) float32", "no graph behind it: data, or made", "where no input needed a gradient")] == ("leaf", None)
    text = to_dot(out, dict(net.named_parameters()))
    assert text.count("subgraph cluster_") == 2 and 'label="module 0"' in text and 'label="module 2"' in text


def test_frozen_parameters_appear_drawn_differently_with_dashed_edges():
    net = small_net()
    finetune.freeze(net, ["2"])                 # the last layer frozen: its input needs a gradient,
    x = tn.tensor(np.ones((5, 3), np.float32))  # so its Linear is recorded with the frozen weights as inputs
    out = net(x).sum()
    nodes, edges = graph_nodes(out, dict(net.named_parameters()))
    by_name = {n["lines"][0]: n for n in nodes}
    assert by_name["2.weight"]["kind"] == by_name["2.bias"]["kind"] == "frozen"
    assert by_name["2.weight"]["lines"] == ["2.weight", "(2, 4) float32", "frozen: no gradient"]
    assert by_name["0.weight"]["kind"] == "trainable"
    dashed = {a for a, b, d in edges if d}
    assert {by_name["2.weight"]["id"], by_name["2.bias"]["id"]} <= dashed
    assert by_name["0.weight"]["id"] not in dashed
    text = to_dot(out, dict(net.named_parameters()))
    frozen_line = next(line for line in text.splitlines() if '"2.weight' in line)
    assert 'style="filled,dashed"' in frozen_line and "#e6e6e6" in frozen_line
    assert "unrecorded" not in {n["kind"] for n in nodes}


def test_a_frozen_first_layer_is_not_recorded_and_is_listed_as_such():
    net = small_net()
    finetune.freeze(net, ["0"])
    out = net(tn.tensor(np.ones((5, 3), np.float32))).sum()
    nodes, _ = graph_nodes(out, dict(net.named_parameters()))
    assert [n["lines"][0] for n in nodes if n["kind"] == "op"] == ["Linear", "Sum"]   # no Linear 0, no ReLU
    note = [n for n in nodes if n["kind"] == "unrecorded"]
    assert len(note) == 1 and note[0]["lines"][0] == "frozen, not in this graph: 0.weight, 0.bias"
    assert "(5, 4) float32" in [n["lines"][0] for n in nodes if n["kind"] == "leaf"]   # where gradients stop


def test_no_node_twice_on_a_graph_with_shared_subexpressions():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * h + h * x + x).sum()
    nodes, edges = graph_nodes(y, {"x": x})
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids))
    assert sum(n["lines"][0] == "x" for n in nodes) == 1
    assert [n["lines"][0] for n in nodes if n["kind"] == "op"] == ["Mul", "Mul", "Mul", "Add", "Add", "Sum"]
    assert all(a in ids and b in ids for a, b, _ in edges)
    assert sum(1 for a, b, _ in edges if a.startswith("f")) == 6       # each op makes exactly one tensor


def test_gradient_norms_after_backward_and_a_freed_graph_is_one_clear_error():
    net = small_net()
    out = net(tn.tensor(np.arange(15, dtype=np.float32).reshape(5, 3))).sum()
    params = dict(net.named_parameters())
    before = {n["lines"][0]: n["lines"] for n in graph_nodes(out, params, grads=True)[0]}
    assert before["0.weight"][-1] == "no .grad yet"
    out.backward(retain_graph=True)
    after = {n["lines"][0]: n["lines"] for n in graph_nodes(out, params, grads=True)[0]}
    for name, p in params.items():
        assert after[name][-1] == f"‖grad‖ = {np.linalg.norm(p.grad.astype(np.float64)):.3g}"
    assert "‖grad‖" not in to_dot(out, params)                           # only when asked
    out.backward()                                                       # frees the graph
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
        to_dot(out, params)


def cnn_step(model):
    tn.manual_seed(1)
    x = tn.randn(8, 1, 28, 28)
    loss = F.cross_entropy(model(x), np.arange(8) % model[-1].out_features)
    return loss, dict(model.named_parameters())


def test_a_cnn_training_step_stays_legible():
    tn.manual_seed(0)
    loss, params = cnn_step(models.cnn())
    full, _ = graph_nodes(loss, params)
    layers, _ = graph_nodes(loss, params, depth=1)
    assert len(full) <= 40 and len(layers) <= 25, (len(full), len(layers))
    groups = [n["lines"][:2] for n in layers if n["kind"] == "group"]
    assert groups == [["module 0", "Conv2d"], ["module 3", "Conv2d"], ["module 7", "Linear"], ["module 9", "Linear"]]
    assert not any(n["kind"] in ("trainable", "frozen") for n in layers)   # listed inside their module
    conv0 = next(n for n in layers if n["lines"][0] == "module 0")
    assert conv0["lines"][2:] == ["0.weight (32, 1, 3, 3) float32", "0.bias (32,) float32"]


def test_lora_layers_cluster_their_ops_and_collapse_with_frozen_marks():
    tn.manual_seed(0)
    model = models.cnn()
    finetune.prepare(model, "lora", 5)
    loss, params = cnn_step(model)
    nodes, _ = graph_nodes(loss, params)
    ops = [(n["lines"][0], n["module"]) for n in nodes if n["kind"] == "op"][:7]
    assert ops == [("MatMul", "0"), ("Mul", "0"), ("Reshape", "0"), ("Add", "0.base"), ("Conv2d", "0.base"),
                   ("ReLU", None), ("MaxPool2d", None)]
    assert len(nodes) <= 70
    loss.backward(retain_graph=True)
    layers, _ = graph_nodes(loss, params, depth=1, grads=True)
    assert len(layers) <= 32
    conv0 = next(n for n in layers if n["lines"][0] == "module 0")
    assert conv0["lines"][1] == "MatMul → Mul → Reshape → Add → Conv2d"
    assert "0.base.weight (32, 1, 3, 3) float32 frozen" in conv0["lines"]
    assert any(line.startswith("0.lora_B (32, 4) float32, ‖grad‖ = ") for line in conv0["lines"])


def test_depth_on_a_module_used_twice_is_refused_not_drawn_as_a_cycle():
    tn.manual_seed(0)
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared)
    x = tn.randn(2, 3)
    h = shared(x)
    out = (shared(h) + h).sum()            # h leaves module 0 and comes back into it
    assert len(graph_nodes(out, dict(model.named_parameters()))[0]) > 0     # fine without depth
    with pytest.raises(ValueError, match="depth=1 would draw a cycle: module 0 is used more than once"):
        to_dot(out, dict(model.named_parameters()), depth=1)


@pytest.mark.parametrize("depth", [0, -1, 1.5, True, "1"])
def test_bad_depth_is_refused(depth):
    with pytest.raises(ValueError, match="depth must be None"):
        to_dot(expression()[1], depth=depth)


def test_bad_arguments_are_one_line_errors():
    x, y = expression()
    for call, err in [(lambda: to_dot(y.data), TypeError), (lambda: to_dot(y, [("x", x)]), TypeError),
                      (lambda: to_dot(y, {"x": 1.0}), TypeError), (lambda: to_dot(y, {3: x}), TypeError)]:
        with pytest.raises(err) as e:
            call()
        assert "\n" not in str(e.value)


def test_a_leaf_and_a_long_chain():
    x = tn.tensor([1.0], requires_grad=True)
    assert [n["kind"] for n in graph_nodes(x)[0]] == ["trainable"]
    y = x
    for _ in range(5000):               # deeper than Python's recursion limit
        y = y * 1.0
    nodes, _ = graph_nodes(y)
    assert len(nodes) == 1 + 2 * 5000 + 5000     # x, each op and its output, each constant


HOSTILE = 'a"b\\c\nd{e}<f>;g\x00h'


def test_labels_are_escaped():
    x = tn.tensor(1.0, requires_grad=True)
    text = to_dot(x * 2, {HOSTILE: x})
    line = next(line for line in text.splitlines() if line.startswith("  t0 "))
    assert line == '  t0 [label="a\\"b\\\\c\\nd{e}<f>;g h\\nscalar float32", shape=ellipse, style=filled, fillcolor="#cfe2f3"];'
    long_name = to_dot(x * 2, {"w" * 500: x})
    assert "w" * 119 + "…" in long_name and "w" * 120 not in long_name


@needs_dot
def test_dot_parses_hostile_labels_and_keeps_them():
    x = tn.tensor(1.0, requires_grad=True)
    r = subprocess.run([DOT, "-Tsvg"], input=to_dot(x * 2, {HOSTILE: x}, legend=False).encode(), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = re.findall(r"<text[^>]*>([^<]*)</text>", r.stdout.decode())
    assert lines[:3] == ["a&quot;b\\c", "d{e}&lt;f&gt;;g h", "scalar float32"]     # one label, three lines


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml")])
def test_draw_graph_renders_with_dot(tmp_path, suffix, magic):
    tn.manual_seed(0)
    loss, params = cnn_step(models.cnn())
    out = draw_graph(loss, tmp_path / f"step{suffix}", params, depth=1)
    assert out == tmp_path / f"step{suffix}" and out.read_bytes().startswith(magic)
    if suffix == ".svg":
        assert "module 3" in out.read_text() and "CrossEntropy" in out.read_text()
    else:
        import matplotlib.image
        h, w = matplotlib.image.imread(out).shape[:2]
        assert 100 < w < h < 4000                 # a tall chain of layers
    assert [p.name for p in tmp_path.iterdir()] == [out.name]     # no temporary file left


def test_draw_graph_writes_dot_text(tmp_path):
    x, y = expression()
    out = draw_graph(y, tmp_path / "g.dot", {"x": x})
    assert out.read_text() == to_dot(y, {"x": x})


def test_without_graphviz_the_dot_file_is_written_with_one_line_saying_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    x, y = expression()
    out = draw_graph(y, tmp_path / "g.png", {"x": x})
    assert out == tmp_path / "g.dot" and out.read_text() == to_dot(y, {"x": x})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install graphviz" in err and "dot -Tpng" in err
    draw_graph(y, tmp_path / "g.svg")                       # replaces a .dot it wrote itself
    (tmp_path / "notes.dot").write_text("my own notes")
    with pytest.raises(ValueError, match="is another file; not replacing it"):
        draw_graph(y, tmp_path / "notes.png")
    assert (tmp_path / "notes.dot").read_text() == "my own notes"


@pytest.mark.parametrize("name, message", [
    ("missing/g.png", "the folder .* does not exist"), ("sub", "is a folder"), ("g.jpg", "must end in .svg, .png, .dot"),
    ("g", "must end in"), ("", "is not a file name"), (".", "is not a file name")])
def test_hostile_paths_are_one_line_errors_and_write_nothing(tmp_path, name, message, monkeypatch):
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match=message) as e:
        draw_graph(expression()[1], name if name != "sub" else "sub.png")
    assert "\n" not in str(e.value) and sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_pipe_or_a_non_path_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ValueError, match="exists and is not a regular file"):
        draw_graph(expression()[1], tmp_path / "pipe.png")
    with pytest.raises(TypeError, match="the path must be a file name"):
        draw_graph(expression()[1], 3)


def test_a_failing_dot_costs_no_file(tmp_path, monkeypatch):
    target = tmp_path / "g.png"
    target.write_bytes(b"keep me")
    monkeypatch.setattr(shutil, "which", lambda name: "/bin/false")
    with pytest.raises(RuntimeError, match=r"dot failed \(exit status 1\)") as e:
        draw_graph(expression()[1], target)
    assert "\n" not in str(e.value)
    assert target.read_bytes() == b"keep me" and [p.name for p in tmp_path.iterdir()] == ["g.png"]


@needs_dot
def test_dot_is_given_a_time_limit(tmp_path):
    with pytest.raises(RuntimeError, match=r"dot took more than 1e-06 s on a graph of 8 nodes"):
        draw_graph(expression()[1], tmp_path / "g.svg", timeout=1e-6)
    assert list(tmp_path.iterdir()) == []


def test_labels_and_gradient_norms_on_every_backend(backend):
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = (3 * x * x).sum()
    y.backward(retain_graph=True)
    nodes, _ = graph_nodes(y, {"x": x}, grads=True)
    lines = [n["lines"] for n in nodes]
    assert ["x", "(2,) float32", f"‖grad‖ = {np.hypot(6.0, 12.0):.3g}"] in lines      # d/dx 3x² = 6x
    assert ["constant 3", "scalar float32"] in lines


def test_parameters_not_reached_are_listed_by_kind_and_cut_after_eight():
    tn.manual_seed(0)
    params = {f"{i}.weight": tn.tensor([1.0], requires_grad=i % 2 == 0) for i in range(20)}
    y = params["0.weight"] * 2
    note = next(n for n in graph_nodes(y, params)[0] if n["kind"] == "unrecorded")
    assert note["lines"] == [
        "frozen, not in this graph: 1.weight, 3.weight, 5.weight, 7.weight, 9.weight, 11.weight, 13.weight, "
        "15.weight … (+2 more)",
        "(no operation using them was recorded: none of its inputs needed a gradient)",
        "trainable, not in this graph: 2.weight, 4.weight, 6.weight, 8.weight, 10.weight, 12.weight, 14.weight, "
        "16.weight … (+1 more)",
        "(this output does not use them, or used them under no_grad)"]
