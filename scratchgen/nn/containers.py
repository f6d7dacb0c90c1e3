"""Modules that hold other modules: ``Sequential`` (a pipeline) and ``ModuleList`` (a list)."""
from .module import Module


class Sequential(Module):
    """Apply modules one after the other: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    Sub-modules are named ``"0"``, ``"1"``, ... so state dict keys match PyTorch's
    (``"0.weight"``).
    """

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            self.append(module, index)

    def append(self, module, index=None):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        self._modules[str(len(self._modules) if index is None else index)] = module
        return self

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        self._modules[str(len(self._modules))] = module
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
