"""The differentiable primitives, one class per op, grouped by family.

* ``elementwise``: arithmetic, exp, log, sin, cos and activations (with broadcasting);
* ``reduce``: sum, max, min, logsumexp and the composites mean, var, softmax, log_softmax;
* ``linalg``: matmul;
* ``movement``: reshape, permute, broadcast, indexing, concatenate, pad, split.
"""
