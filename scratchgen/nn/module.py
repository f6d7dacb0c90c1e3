"""``Module`` and ``Parameter``: the containers that hold a model's state.

A Module registers, by attribute assignment, its ``Parameter``s (tensors an optimizer trains),
its buffers (state that is saved but not trained, such as BatchNorm's running statistics) and
its sub-modules. Everything else follows from walking that tree: ``parameters()``,
``state_dict()``, ``train()``/``eval()``, ``zero_grad()`` and the printed summary.
"""
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: keys the module has but the state dict lacks, and
    keys the state dict has but the module lacks (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign Parameters, buffers (via
    ``register_buffer``) and sub-modules as attributes, and define ``forward``; calling the
    module calls ``forward``.
    """

    def __init__(self):
        # object.__setattr__ because our own __setattr__ expects these dicts to exist.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        # The rules of PyTorch's Module.__setattr__: a Parameter or a Module registers itself;
        # a name already registered as a parameter or sub-module takes only its own kind (or
        # None), so that a plain Tensor never silently stops being trained or saved; a
        # registered buffer takes a new array or Tensor.
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(value, Parameter):
            self._unregister(name, keep=self._parameters)     # a replaced one keeps its place
            self._parameters[name] = value
        elif name in self._parameters:
            self._check_registered_kind(name, value, "parameter", "an nn.Parameter",
                                        "wrap it as nn.Parameter(value)")
            self._parameters[name] = None
        elif isinstance(value, Module):
            self._unregister(name, keep=self._modules)
            self._modules[name] = value
        elif name in self._modules:
            self._check_registered_kind(name, value, "sub-module", "an nn.Module",
                                        "assign a Module")
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, (Tensor, np.ndarray)):
                raise TypeError(f"{type(self).__name__}: cannot assign "
                                f"{type(value).__name__} to buffer {name!r} (expected a "
                                f"Tensor, a numpy array or None)")
            # Replacing a buffer's value keeps its place, so state_dict() still saves it.
            self.register_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def _check_registered_kind(self, name, value, kind, expected, fix):
        """Refuse to put ``value`` (unless None) where a ``kind`` named ``name`` is registered."""
        if value is not None:
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to "
                            f"{kind} {name!r} (expected {expected} or None); {fix}, or "
                            f"delete the attribute first (del module.{name}) to store "
                            f"something else under that name")

    def _unregister(self, name, keep=None):
        """Forget ``name`` as a parameter, buffer, sub-module or plain attribute (except in
        the store ``keep``, where the caller replaces the entry in place)."""
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):  # only called when normal lookup fails
        for store in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(store)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """Register state that is saved in ``state_dict`` but not trained (e.g. running means).

        ``value`` is an array or Tensor (stored as a Tensor without grad), or None.
        """
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(np.asarray(value))
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a disabled bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    # ----------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- walking the tree
    def named_modules(self, prefix=""):
        """Yield ``(name, module)`` for this module and every descendant, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m)
                        for child, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        return ((name, m) for name, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, store, recurse):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))  # a shared (tied) parameter is listed once
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, recurse=True):
        """Yield ``(dotted_name, Parameter)``, each shared parameter once."""
        return self._named_members("_parameters", recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse=True):
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse))

    def num_parameters(self, trainable_only=False):
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ----------------------------------------------------------------- modes and grads
    def train(self, mode=True):
        """Set training mode (batch statistics, active dropout) on this module and, through
        each child's own ``train(mode)``, on every descendant; return self.

        A subclass may override ``train`` (a GAN wrapper that keeps an EMA copy in
        evaluation mode, say); its parent calls the override, as in PyTorch.
        """
        object.__setattr__(self, "training", bool(mode))
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Set evaluation mode (running statistics, no dropout); return self."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter (set to None, or fill with zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad=True):
        """Turn gradient tracking of every parameter on or off (e.g. to freeze a GAN's
        discriminator while training its generator); return self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every module (children first), e.g. for custom init."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # ----------------------------------------------------------------- state
    def state_dict(self):
        """An ordered ``{dotted_name: ndarray}`` of every parameter and buffer (copies).

        Names and shapes follow PyTorch's layers (``weight``, ``bias``, ``running_mean``...),
        so a PyTorch state dict converted to NumPy arrays loads into the same architecture.
        """
        state = OrderedDict()
        for prefix, module in self.named_modules():
            for store in (module._parameters, module._buffers):
                for name, value in store.items():
                    if value is not None:
                        state[f"{prefix}.{name}" if prefix else name] = np.array(value.data)
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Values are copied into the existing arrays (so optimizers holding the parameters keep
        working) and cast to their dtype. Every key is checked before anything is copied: a
        failed load changes nothing.

        Parameters
        ----------
        state_dict : mapping of str to array_like or Tensor
        strict : bool
            Missing and unexpected keys are errors (the default), or are only reported in
            the return value. A shape mismatch is an error either way.

        Returns
        -------
        IncompatibleKeys
            A named tuple ``(missing_keys, unexpected_keys)`` of lists of keys.

        Raises
        ------
        RuntimeError
            As PyTorch's: one error listing every missing, unexpected (with ``strict``) and
            shape-mismatched key, naming the module class.
        """
        targets = OrderedDict()
        for prefix, module in self.named_modules():
            for store in (module._parameters, module._buffers):
                for name, value in store.items():
                    if value is not None:
                        targets[f"{prefix}.{name}" if prefix else name] = value
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        values = {}
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != target.shape:
                problems.append(f"{key} has shape {value.shape} in the state dict but "
                                f"{target.shape} in {type(self).__name__}")
            values[key] = value
        if problems:
            raise RuntimeError(f"load_state_dict: {len(problems)} problem(s) loading into "
                               f"{type(self).__name__}, nothing was loaded:\n  "
                               + "\n  ".join(problems))
        for key, value in values.items():
            target = targets[key]
            if not target.data.flags.writeable:
                target.data = np.array(target.data)
            np.copyto(target.data, value, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- printing
    def extra_repr(self):
        """One line of settings shown in the printed tree (layers override it)."""
        return ""

    def __repr__(self):
        count = self.num_parameters()
        note = f"  # {count:,} parameters" if count else ""
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()}){note}"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        return "\n".join(lines) + f"\n){note}"
