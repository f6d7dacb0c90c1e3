"""Reverse-mode automatic differentiation over NumPy arrays.

``Tensor`` wraps an array and remembers the ``Function`` that produced it; ``engine`` walks
that record backwards. Every op's backward is written with Tensor ops, so the backward pass can
itself be recorded (``create_graph=True``) and differentiated again.
"""
