"""The Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict."""
import copy

from .. import backend


class Optimizer:
    """Holds ``param_groups``: a list of dicts, each with its ``params`` and hyper-parameters.

    ``params`` is an iterable of Parameters, or of dicts ``{"params": [...], "lr": ...}`` to
    give groups their own settings (a backbone and a head with different learning rates).
    Missing settings are taken from ``defaults``. ``step()`` skips parameters that are frozen
    (``requires_grad=False``) or have no gradient.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}                      # Parameter -> dict of arrays (momentum, ...)
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        group = dict(group)
        group["params"] = list(group["params"])
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown setting(s) {sorted(unknown)} in a parameter group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def _params_with_grad(self, group):
        for p in group["params"]:
            if p.requires_grad and p.grad is not None:
                yield p

    def step(self):
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                state = self.state.setdefault(p, {})
                self._update(p, p.grad, state, group)

    def _update(self, p, g, state, group):
        raise NotImplementedError

    # --- saving and resuming -------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {name: array}}, "param_groups": [settings with param indices]}``,
        as PyTorch: parameters are numbered in group order."""
        index, groups = {}, []
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            entry["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                entry["params"].append(index[id(p)])
            groups.append(entry)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("loaded optimizer state does not match this optimizer's parameter groups")
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: backend.to_backend(getattr(v, "data", v), p.backend).astype(p.dtype)
                             if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0 else v
                             for k, v in s.items()}
        for g, saved in zip(self.param_groups, groups):
            g.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])
