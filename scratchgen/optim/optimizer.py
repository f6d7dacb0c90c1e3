"""``Optimizer``: parameter groups, per-parameter state, and the step loop every algorithm shares.

An optimizer holds ``param_groups``, a list of dicts each with a ``"params"`` list and that
group's hyperparameters (``"lr"``, ...), and ``state``, a dict from parameter to that
parameter's buffers (momentum, running averages, step counts). ``step()`` walks every parameter
that has a gradient and hands the arrays to the algorithm's ``_update``, which changes
``param.data`` in place. Nothing here goes through autograd: an update is plain array arithmetic.

``state_dict()`` refers to parameters by their position in the groups (0, 1, ... in group order),
as PyTorch does, so a checkpoint can be loaded into a new optimizer over new parameter objects.
"""
import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor


class Optimizer:
    """Base class of the optimizers in ``scratchgen.optim``.

    Parameters
    ----------
    params : iterable of Tensor or iterable of dict
        The tensors to optimize, or parameter groups: dicts with a ``"params"`` list and any
        hyperparameters that should differ from ``defaults`` for that group, e.g.
        ``[{"params": encoder_params}, {"params": head_params, "lr": 1e-2}]``.
    defaults : dict
        Hyperparameters of every group that does not set its own.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (list of Tensor) and every hyperparameter.
    state : dict
        Per-parameter state, ``state[param] -> dict`` of arrays and scalars. Filled lazily by
        the first ``step`` that sees a gradient for that parameter.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults, self._name)
        self.param_groups = []
        self.state = {}
        if isinstance(params, (Tensor, dict)):
            kind = "a Tensor" if isinstance(params, Tensor) else "a dict"
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or of dicts (parameter "
                f"groups), got {kind}; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group):
        """Add a group of parameters, e.g. layers unfrozen part-way through training.

        Parameters
        ----------
        param_group : dict
            ``{"params": tensors, hyperparameter: value, ...}``; hyperparameters it leaves out
            take the optimizer's defaults.
        """
        owner = f"{self._name}: parameter group {len(self.param_groups)}"
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{owner}: expected a dict with a 'params' entry, got "
                f"{type(param_group).__name__} (do not mix Tensors and dicts in params)"
            )
        if "params" not in param_group:
            raise ValueError(f"{owner}: the dict has no 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{owner}: params must be an ordered sequence, got a set (its order changes "
                "between runs, which would scramble saved state); use a list"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{owner}: the group has no parameters")

        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for index, p in enumerate(params):
            self._check_parameter(p, f"{owner}, parameter {index}")
            if id(p) in seen:
                raise ValueError(
                    f"{owner}, parameter {index}: the tensor (shape {p.shape}) appears more "
                    "than once among the parameter groups; each tensor may be given only once"
                )
            seen.add(id(p))

        # Keys beyond the defaults (a group "name", say) are kept, as in PyTorch.
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._check_hyperparameters(group, owner)
        self.param_groups.append(group)

    def _check_parameter(self, p, owner):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: expected a Tensor, got {type(p).__name__}")
        if not np.issubdtype(p.dtype, np.floating):
            raise TypeError(
                f"{owner}: only floating-point tensors can be optimized, got dtype {p.dtype}"
            )
        # NOTE: a frozen parameter (requires_grad=False) is accepted, as in PyTorch: a GAN
        # freezes one network while training the other, and step() skips tensors without grad.
        if not p.is_leaf:
            raise ValueError(
                f"{owner}: can only optimize leaf tensors, got one computed by "
                f"{type(p.grad_fn).__name__}"
            )

    def _check_hyperparameters(self, group, owner):
        """Raise for out-of-range hyperparameters in ``group``; each algorithm adds its own.

        ``owner`` names the optimizer (and group) in the message.
        """
        if "lr" in group:
            check_at_least(owner, "lr", group["lr"], 0.0)

    # ----------------------------------------------------------------- the step
    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter.

        Parameters
        ----------
        set_to_none : bool
            Set ``.grad`` to None (the default: saves memory, and ``step`` then skips the
            parameter) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.grad_fn is None and p.grad.data.flags.writeable:
                    p.grad.data.fill(0)
                else:
                    # NOTE: a gradient recorded with create_graph=True is part of a graph and
                    # may be shared with other tensors; overwrite the reference, not the array.
                    p.grad = Tensor._wrap(np.zeros_like(p.grad.data))

    def step(self, closure=None):
        """Update every parameter that has a gradient; parameters whose ``.grad`` is None are
        skipped (and get no state).

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (it should call ``zero_grad`` and
            ``backward`` itself). Runs with gradient recording on.

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, self._gradient_of(p), group)
        return loss

    def _gradient_of(self, p):
        """``p.grad`` as an array of ``p``'s shape and dtype (read only by the updates)."""
        grad = p.grad.data
        if grad.shape != p.shape:
            raise ValueError(
                f"{self._name}.step: a parameter of shape {p.shape} has a gradient of shape "
                f"{grad.shape}"
            )
        return grad if grad.dtype == p.dtype else grad.astype(p.dtype)

    def _update(self, param, grad, group):
        """Change ``param.data`` in place from the array ``grad`` and ``group``'s settings."""
        raise NotImplementedError(f"{self._name} does not implement _update")

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self):
        """The optimizer's state as plain data, with parameters replaced by their indices.

        Returns
        -------
        dict
            ``{"state": {index: {name: ndarray or scalar}}, "param_groups": [{hyperparameter:
            value, ..., "params": [index, ...]}]}``. Index ``i`` is the i-th parameter counting
            through the groups in order. It holds only dicts, lists, numbers, bools, strings,
            None and NumPy arrays (copies), so it can be written without pickle.
        """
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {key: _plain(value) for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of[id(p)] = len(index_of)
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index_of[id(p)]] = {
                        name: _plain(value) for name, value in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()`` into this optimizer, over parameters of the same shapes.

        Hyperparameters of each group are taken from ``state_dict`` (and checked); its state
        arrays are copied (cast to each parameter's dtype), so later steps continue exactly
        where the saved optimizer stopped. Nothing changes if the state dict does not fit.
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(
                f"{name}: expected a dict with keys 'param_groups' and 'state', got {found}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter groups but the "
                f"optimizer has {len(self.param_groups)}"
            )
        params, groups = [], []
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}: parameter group {g} has {len(saved['params'])} parameters in "
                    f"the state dict but {len(group['params'])} in the optimizer"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{name}: parameter group {g} of the state dict lacks hyperparameters "
                    f"{missing} (was it saved by another kind of optimizer?)"
                )
            restored = {}
            for key, value in saved.items():
                if key != "params":
                    restored[key] = _restored(value, group.get(key))
            self._check_hyperparameters(restored, f"{name}: parameter group {g}")
            restored["params"] = group["params"]
            groups.append(restored)
            params.extend(group["params"])

        state = {}
        for key, saved_state in state_dict["state"].items():
            index = _index(name, key, len(params))
            p = params[index]
            state[p] = {}
            for entry, value in saved_state.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(
                            f"{name}: state '{entry}' of parameter {index} has shape "
                            f"{value.shape} but the parameter has shape {p.shape}"
                        )
                    value = np.array(value, dtype=p.dtype, copy=True)
                state[p][entry] = value
        # Update the group dicts in place, so references to them (a scheduler's) stay valid.
        for group, restored in zip(self.param_groups, groups):
            group.clear()
            group.update(restored)
        self.state = state

    def __repr__(self):
        lines = [f"{self._name} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {g}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def effective_gradient(grad, param, weight_decay, maximize):
    """``g = (-grad if maximize else grad) + weight_decay * param``, the gradient an update uses.

    Returns ``grad`` itself when neither applies (no copy), else a new array.
    """
    if weight_decay == 0:
        return np.negative(grad) if maximize else grad
    g = np.multiply(param, weight_decay)
    if maximize:
        g -= grad
    else:
        g += grad
    return g


def check_number(owner, name, value):
    """Hyperparameters are real numbers: raise TypeError for anything else (bools included)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")


def check_at_least(owner, name, value, low):
    check_number(owner, name, value)
    if not value >= low:  # also rejects NaN
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")


def check_fraction(owner, name, value):
    """``value`` must lie in [0, 1): betas, decay rates of running averages."""
    check_number(owner, name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value}")


def check_positive(owner, name, value):
    check_number(owner, name, value)
    if not value > 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value}")


def _plain(value):
    """A copy of ``value`` made of plain data: arrays copied, tuples as lists, NumPy scalars as
    Python numbers."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _restored(value, current):
    """A saved hyperparameter, as a tuple again where the optimizer keeps a tuple (betas)."""
    if isinstance(value, (list, tuple)):
        value = [_plain(v) for v in value]
        return tuple(value) if isinstance(current, tuple) else value
    return _plain(value)


def _index(name, key, count):
    """A parameter index from a state dict key (an int, or its digits after a JSON trip)."""
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
        raise ValueError(f"{name}: state keys must be parameter indices, got {key!r}")
    if not 0 <= key < count:
        raise ValueError(
            f"{name}: the state dict has state for parameter {key} but the optimizer has "
            f"{count} parameters (indices 0 to {count - 1})"
        )
    return int(key)
