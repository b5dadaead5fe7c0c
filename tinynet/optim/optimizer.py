"""The Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict."""
import copy

from .. import backend
from ..tensor import Tensor, enable_grad


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
        if isinstance(params, Tensor) or isinstance(params, dict):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters or of dicts "
                            f"(e.g. model.parameters()), got a single {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        group = dict(group)
        group["params"] = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor (one computed from "
                                 "others); optimize the Parameters it was computed from")
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

    def step(self, closure=None):
        """Update every parameter that requires grad and has a gradient; skip the others.

        ``closure`` (optional, as PyTorch): a function that recomputes the loss, called first;
        its value is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                state = self.state.setdefault(p, {})
                self._check_state_backend(p, state)
                self._update(p, p.grad, state, group)
        return loss

    def _check_state_backend(self, p, state):
        """Refuse to step with state left on another backend by ``model.to(...)`` (PyTorch fails
        there too, with a device mismatch); ``load_state_dict(state_dict())`` moves it."""
        for k, v in state.items():
            if backend.is_array(v) and backend.backend_name(v) != p.backend:
                raise backend.BackendError(
                    f"{type(self).__name__}.step: its state {k!r} for a parameter of shape {p.shape} is on "
                    f"{backend.backend_name(v)!r}, but the parameter is now on {p.backend!r} (the model was "
                    f"moved after the optimizer had stepped); move the state with "
                    f"optimizer.load_state_dict(optimizer.state_dict()), or create the optimizer after model.to(...)")

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
        """Resume from ``state_dict()`` (possibly read back by ``tinynet.load``): the state arrays
        are copied onto each parameter's backend and dtype, the settings (lr, ...) restored."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved state has parameter groups of sizes "
                f"{[len(g['params']) for g in groups]}, this optimizer "
                f"{[len(g['params']) for g in self.param_groups]}")
        params = [p for g in self.param_groups for p in g["params"]]
        state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            state[p] = {k: self._state_value(v, p, f"state[{i}][{k!r}]") for k, v in s.items()}
        self.state = state
        for g, saved in zip(self.param_groups, groups):
            g.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    @staticmethod
    def _state_value(v, p, where):
        """A saved state entry as this optimizer keeps it: arrays copied onto p's backend and dtype
        (checked against p's shape), 0-d arrays as Python numbers, other values as they are."""
        a = v.data if isinstance(v, Tensor) else v
        if not backend.is_array(a):
            return copy.deepcopy(a)
        if a.ndim == 0:
            return a.item()
        if tuple(a.shape) != p.shape:
            raise ValueError(f"optimizer load_state_dict: {where} has shape {tuple(a.shape)}, "
                             f"but its parameter has shape {p.shape}")
        return backend.to_backend(a, p.backend).astype(p.dtype)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])
