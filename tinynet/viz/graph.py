"""The autograd graph behind a tensor, as Graphviz DOT text (``to_dot``).

    loss = F.cross_entropy(model(x), y)
    text = to_dot(loss, params=dict(model.named_parameters()))      # a string; draw_graph draws it

What is drawn is exactly what tinynet recorded: starting from ``output`` and following
``t.grad_fn.inputs`` back, every tensor reached and every operation (``Function``) that made one,
each once. Read top to bottom, data flows down; ``backward`` walks the arrows the other way.

    box, yellow        an operation: the name of its Function class (``Conv2d``, ``Add``, …)
    oval               a tensor, with its shape and dtype ("scalar" for shape ()); the output has
                       a double border
    oval, blue         a leaf that requires grad: a trainable parameter (named by its module path,
                       "0.weight", when ``params`` names it) or an input you asked gradients for
    oval, grey, dashed a frozen parameter (``requires_grad`` False): still an input of the
                       operation that used it, but the arrow is dashed: no gradient flows back
    oval, white        any other leaf: the data, a constant ("constant 3"), or a tensor computed
                       with nothing to record (a frozen backbone's output: where gradients stop)
    note, grey         the parameters of ``params`` the walk never reached: frozen layers that ran
                       on inputs needing no gradient were not recorded at all (no graph, no
                       backward work), so they are listed here rather than silently missing

Which layer an operation belongs to. The engine has no module hooks, so the graph does not know
it; it is read off the parameters, which is honest and needs nothing else: an operation that
consumes parameters of module ``M`` ("3.weight", "3.bias" → ``M`` = "3"; of several modules, their
longest common path) is in ``M``, and so is an operation that lies on a path from one operation of
``M`` to another (the ``Mul`` and ``Reshape`` that build a LoRA layer's ΔW between its ``MatMul`` and
its ``Conv2d``). The rest — activations, pooling, flatten, the loss — is drawn between the layers
(a module applied twice in a row also takes in what lies between its two uses; a LoRALinear's
final ``Add`` lies after both its branches, not between them, so it is drawn just outside).
With ``params`` given, each module's operations and parameters are boxed in a Graphviz cluster
labelled by its path (nested: "0" holds "0.base"). ``depth=k`` collapses further: every module at
path depth k becomes one node listing its operations and parameters (trainable/frozen, gradient
norm), so a whole CNN step reads as its layers.

``grads=True`` (after ``loss.backward(retain_graph=True)``: backward frees the graph otherwise)
adds each leaf's ‖.grad‖ (Euclidean norm); intermediate tensors keep no gradient, as in PyTorch.
Output is deterministic: nodes are numbered in a fixed walk order (inputs before the operations
using them), never by ``id()``.
"""
from collections.abc import Mapping

from .. import backend
from ..tensor import Tensor

__all__ = ["to_dot", "graph_nodes"]

HEADER = "digraph tinynet {"            # draw_graph recognises a .dot it wrote by this first line
LEGEND = ("boxes: operations · ovals: tensors (shape, dtype) · blue: trainable · "
          "grey dashed: frozen, no gradient flows back · white: data and constants")
MAX_NAME = 120                          # a longer parameter name is cut, so a label stays readable
OP_STYLE = 'shape=box, style="rounded,filled", fillcolor="#fff2cc"'
STYLES = {
    "op": OP_STYLE,
    "trainable": 'shape=ellipse, style=filled, fillcolor="#cfe2f3"',
    "frozen": 'shape=ellipse, style="filled,dashed", fillcolor="#e6e6e6", fontcolor="#555555"',
    "leaf": "shape=ellipse",
    "constant": "shape=ellipse",
    "tensor": "shape=ellipse",
    "frozen_group": 'shape=box, style="rounded,filled,dashed", fillcolor="#e6e6e6"',
    "unrecorded": 'shape=note, style="filled,dashed", fillcolor="#e6e6e6", fontcolor="#555555"',
}


def _quote(text):
    """A DOT quoted string: control characters become spaces, ``\\`` and ``"`` are escaped, and the
    text's own lines are joined by DOT's ``\\n``."""
    lines = ["".join(c if c.isprintable() else " " for c in line) for line in str(text).split("\n")]
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def _short(name):
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def _shape(t):
    return "scalar" if t.shape == () else str(t.shape)


def _walk(root):
    """Every tensor reachable from ``root`` through ``grad_fn.inputs``, each once, inputs before
    the tensor an operation made from them (iterative: a chain of any length needs no recursion)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"to_dot draws the graph behind a Tensor, got {type(root).__name__}")
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        fn = t.grad_fn
        if fn is not None:
            if fn.inputs is None:
                raise RuntimeError("this graph was freed by backward(); to draw it after backward, call "
                                   "backward(retain_graph=True), or draw it before backward")
            stack.extend((x, False) for x in reversed(fn.inputs) if id(x) not in seen)
    return order


def _names(params):
    """{id(tensor): [names]} from ``params`` (name → Tensor); a tensor may go by several names."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must map names to tensors, e.g. dict(model.named_parameters()); "
                        f"got {type(params).__name__}")
    names = {}
    for name, t in params.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(f"params must map names (str) to Tensors; got {type(name).__name__} → {type(t).__name__}")
        names.setdefault(id(t), []).append(_short(name))
    return names


def _module_of(name):
    """The module path of a parameter name: "0.base.weight" → "0.base"; a top-level "x" → None."""
    return name.rpartition(".")[0] or None


def _prefixes(path):
    """"0.base" → ["0", "0.base"]."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _common(paths):
    parts = [p.split(".") for p in paths]
    common = []
    for level in zip(*parts):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return ".".join(common) or None


def _owners(order, names):
    """{id(tensor): module path} for every tensor made by an operation that belongs to a module
    (see the module docstring: parameters consumed, or lying between two operations of it)."""
    made = [t for t in order if t.grad_fn is not None]
    own = {}
    for t in made:
        modules = [_module_of(names[id(x)][0]) for x in t.grad_fn.inputs if id(x) in names]
        if modules and None not in modules:
            own[id(t)] = _common(modules)
    above = {}                           # modules with an operation upstream of t (t excluded)
    for t in made:
        s = set()
        for x in t.grad_fn.inputs:
            s |= above.get(id(x), set())
            if own.get(id(x)):
                s.update(_prefixes(own[id(x)]))
        above[id(t)] = s
    below = {}                           # modules with an operation downstream of t
    for t in reversed(made):
        for x in t.grad_fn.inputs:
            if x.grad_fn is not None:
                s = below.setdefault(id(x), set())
                s |= below.get(id(t), set())
                if own.get(id(t)):
                    s.update(_prefixes(own[id(t)]))
    for t in made:
        if own.get(id(t)) is None:
            between = above[id(t)] & below.get(id(t), set())
            if between:
                own[id(t)] = max(between, key=lambda p: (p.count("."), p))
    return own


def _unreached(params, reached, shown=8):
    """Label lines for the parameters in ``params`` the walk did not reach (empty if none)."""
    lines = []
    for frozen, what, why in (
            (True, "frozen, not in this graph", "(no operation using them was recorded: none of its inputs needed a gradient)"),
            (False, "trainable, not in this graph", "(this output does not use them, or used them under no_grad)")):
        names = [n for n, t in (params or {}).items() if id(t) not in reached and t.requires_grad != frozen]
        if names:
            more = f" … (+{len(names) - shown} more)" if len(names) > shown else ""
            lines += [f"{what}: " + ", ".join(map(_short, names[:shown])) + more, why]
    return lines


def _grad_line(t):
    if t.grad is None:
        return "no .grad yet"
    g = backend.to_numpy(t.grad).astype("float64")
    return f"‖grad‖ = {float((g * g).sum()) ** 0.5:.3g}"


def _tensor_node(t, names, root, grads):
    """(kind, label lines) of tensor ``t``."""
    name = ", ".join(names[id(t)]) if id(t) in names else None
    described = f"{_shape(t)} {t.dtype}"
    if t.grad_fn is not None:
        return "tensor", ([name] if name else []) + [described] + (["output"] if t is root else [])
    if t.requires_grad:
        return "trainable", [name or "leaf (requires grad)", described] + ([_grad_line(t)] if grads else [])
    if name is not None:
        return "frozen", [name, described, "frozen: no gradient"]
    if t.numel() == 1:
        return "constant", [f"constant {backend.to_numpy(t.data).reshape(()).item():.6g}", described]
    return "leaf", [described, "no graph behind it: data, or made", "where no input needed a gradient"]


def graph_nodes(output, params=None, depth=None, grads=False):
    """The graph as plain data, before it is written as DOT: ``(nodes, edges)``.

    ``nodes``: list of dicts ``{"id", "kind", "lines", "module", "output"}`` in walk order — ``kind``
    one of "op", "tensor", "trainable", "frozen", "leaf", "constant", "group", "frozen_group",
    "unrecorded" (the parameters not reached, listed in one note);
    ``module`` the cluster the node is drawn in (None: top level). ``edges``: list of ``(from_id, to_id, dashed)``.
    Tests check the graph node by node on this; ``to_dot`` writes it.
    """
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise ValueError(f"depth must be None (every operation) or a whole number >= 1, got {depth!r}")
    names = _names(params)
    order = _walk(output)
    own = _owners(order, names)
    nodes, edges, tid = [], [], {}
    for i, t in enumerate(order):
        tid[id(t)] = f"t{i}"
    for i, t in enumerate(order):
        kind, lines = _tensor_node(t, names, output, grads)
        module = own.get(id(t)) if t.grad_fn is not None else (_module_of(names[id(t)][0]) if id(t) in names else None)
        nodes.append({"id": tid[id(t)], "kind": kind, "lines": lines, "module": module, "output": t is output})
        if t.grad_fn is not None:
            op = f"f{i}"
            nodes.append({"id": op, "kind": "op", "lines": [type(t.grad_fn).__name__], "module": own.get(id(t)),
                          "output": False})
            edges.extend((tid[id(x)], op, not x.requires_grad) for x in t.grad_fn.inputs)
            edges.append((op, tid[id(t)], False))
    missing = _unreached(params, tid)
    if missing:
        nodes.append({"id": "u0", "kind": "unrecorded", "lines": missing, "module": None, "output": False})
    return (nodes, edges) if depth is None else _collapse(nodes, edges, depth)


def _collapse(nodes, edges, depth):
    """Merge every module at path depth ``depth`` into one node: its operations, its parameters
    and constants used only there, and the tensors it makes and uses only itself. What crosses its
    border (its input and output tensors) stays drawn."""
    def key(module):
        return ".".join(module.split(".")[:depth]) if module else None
    group = {n["id"]: key(n["module"]) for n in nodes if n["kind"] == "op" and n["module"]}
    users, producer = {}, {}
    for a, b, _ in edges:
        users.setdefault(a, []).append(b)
        if a.startswith("f"):        # an operation's output
            producer[b] = a
    for n in nodes:
        used_in = {group.get(u) for u in users.get(n["id"], [])}
        if n["kind"] == "op" or n["output"] or len(used_in) != 1 or None in used_in:
            continue
        g = used_in.pop()
        if n["kind"] == "constant" or (group.get(producer[n["id"]]) if n["id"] in producer
                                       else key(n["module"])) == g:
            group[n["id"]] = g
    merged, out = {}, []
    for n in nodes:
        g = group.get(n["id"])
        if g is None:                    # drawn as it is, in the cluster of the level above
            out.append(dict(n, module=key(n["module"]).rpartition(".")[0] or None if n["module"] else None))
            continue
        if g not in merged:
            merged[g] = {"id": f"m{len(merged)}", "kind": "group", "lines": [f"module {g}"], "ops": [],
                         "params": [], "module": g.rpartition(".")[0] or None, "output": False}
            out.append(merged[g])
        if n["kind"] == "op":
            merged[g]["ops"].append(n["lines"][0])
        elif n["kind"] in ("trainable", "frozen"):
            merged[g]["params"].append(n)
    for m in merged.values():
        ops, params = m.pop("ops"), m.pop("params")
        m["lines"].append(" → ".join(o + (f" ×{ops.count(o)}" if ops.count(o) > 1 else "") for o in dict.fromkeys(ops)))
        m["lines"] += [" ".join(p["lines"][:2]) + (" frozen" if p["kind"] == "frozen" else "")
                       + "".join(f", {extra}" for extra in p["lines"][2:] if p["kind"] == "trainable") for p in params]
        if params and all(p["kind"] == "frozen" for p in params):
            m["kind"] = "frozen_group"
    ids = {i: merged[g]["id"] for i, g in group.items()}
    merged_edges = []
    for a, b, dashed in edges:
        e = (ids.get(a, a), ids.get(b, b), dashed)
        if e[0] != e[1] and e not in merged_edges:
            merged_edges.append(e)
    _check_acyclic(out, merged_edges, depth)
    return out, merged_edges


def _check_acyclic(nodes, edges, depth):
    """A module used twice with other work in between (a shared layer) would merge into a cycle."""
    indegree = {n["id"]: 0 for n in nodes}
    after = {}
    for a, b, _ in set(edges):
        indegree[b] += 1
        after.setdefault(a, []).append(b)
    ready = [i for i, d in indegree.items() if d == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in after.get(i, []):
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append(j)
    if done != len(nodes):
        stuck = sorted(n["lines"][0] for n in nodes if indegree[n["id"]] > 0 and n["kind"].endswith("group"))
        raise ValueError(f"depth={depth} would draw a cycle: {', '.join(stuck) or 'a module'} is used more than "
                         "once with other work in between; draw it with a larger depth or depth=None")


def to_dot(output, params=None, depth=None, grads=False, legend=True):
    """The graph behind ``output`` as Graphviz DOT text (see the module docstring for what is drawn).

    ``params``: name → Tensor, e.g. ``dict(model.named_parameters())``; names those leaves, tells
    frozen parameters from other constants, and groups operations into clusters per module.
    ``depth``: None (every operation) or k ≥ 1 (each module at path depth k drawn as one node).
    ``grads``: add each leaf's gradient norm (after ``backward(retain_graph=True)``).
    ``legend``: a one-line key under the graph.
    """
    nodes, edges = graph_nodes(output, params, depth, grads)
    lines = [HEADER, '  graph [fontname="Helvetica", fontsize=10, labelloc=b'
             + (f", label={_quote(LEGEND)}" if legend else "") + "];",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [arrowsize=0.7];']
    def node_line(n, indent):
        extra = ", peripheries=2" if n["output"] else ""
        return f"{indent}{n['id']} [label={_quote(chr(10).join(n['lines']))}, {STYLES.get(n['kind'], OP_STYLE)}{extra}];"

    clusters = {}                        # module path → its nodes; parents made as needed
    for n in nodes:
        if n["module"]:
            for p in _prefixes(n["module"]):
                clusters.setdefault(p, [])
            clusters[n["module"]].append(n)
    numbers = {p: i for i, p in enumerate(clusters)}

    def emit(path, indent):
        lines.append(f"{indent}subgraph cluster_{numbers[path]} {{")
        lines.append(f'{indent}  label={_quote("module " + path)}; labelloc=t; style=rounded; color="#999999";')
        lines.extend(node_line(n, indent + "  ") for n in clusters[path])
        for child in clusters:
            if child.rpartition(".")[0] == path and child != path:
                emit(child, indent + "  ")
        lines.append(f"{indent}}}")

    lines.extend(node_line(n, "  ") for n in nodes if not n["module"])
    for path in clusters:
        if "." not in path:
            emit(path, "  ")
    for a, b, dashed in edges:
        lines.append(f"  {a} -> {b}" + (' [style=dashed, color="#888888"];' if dashed else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"

