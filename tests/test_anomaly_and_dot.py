"""``detect_anomaly`` stops at the op that made a NaN or inf; ``to_dot`` draws the graph."""
import inspect
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import scratchgen as sg
from scratchgen.autograd.anomaly import is_anomaly_enabled

THIS_FILE = os.path.basename(__file__)


def next_line():
    """The line number after the caller's current line."""
    return inspect.currentframe().f_back.f_lineno + 1


# ---------------------------------------------------------------- detect_anomaly
def test_forward_anomaly_names_the_op_and_the_users_line():
    x = sg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(sg.AnomalyError) as info:
        with sg.detect_anomaly():
            line = next_line()
            x.log()
    message = str(info.value)
    assert "forward of Log" in message and "-inf" in message
    assert f"{THIS_FILE}:{line}" in message


def test_forward_anomaly_stops_at_the_first_bad_op():
    x = sg.tensor([-1.0, 4.0], requires_grad=True)
    with pytest.raises(sg.AnomalyError, match=r"forward of Sqrt produced nan in 1 of 2 entries"):
        with sg.detect_anomaly():
            y = (x * 2.0).sqrt()
            y * 3.0


def test_anomaly_is_a_floating_point_error():
    assert issubclass(sg.AnomalyError, FloatingPointError)


def test_backward_anomaly_names_the_op_whose_gradient_is_not_finite():
    x = sg.tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(sg.AnomalyError) as info:
        with sg.detect_anomaly():
            line = next_line()
            y = x.sqrt()  # forward is finite (sqrt(0) = 0), the gradient 1 / (2 sqrt(0)) is not
            y.sum().backward()
    message = str(info.value)
    assert "backward of Sqrt" in message and "inf" in message
    assert f"{THIS_FILE}:{line}" in message


def test_no_anomaly_inside_the_context_for_finite_values():
    x = sg.tensor([1.0, 4.0], requires_grad=True)
    with sg.detect_anomaly():
        x.sqrt().log().sum().backward()
        (sg.tensor([1, 2]) + 1).sum()  # integer ops are not checked
    np.testing.assert_allclose(x.grad.data, 1.0 / (2.0 * x.data), rtol=1e-6)  # d log(sqrt x) / dx


def test_outside_the_context_nothing_is_raised():
    x = sg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x.log()
        x.sqrt().sum().backward()
    assert y.data[0] == -np.inf
    assert x.grad.data[0] == np.inf


def test_detect_anomaly_switches_off_after_an_error():
    with pytest.raises(sg.AnomalyError):
        with sg.detect_anomaly():
            sg.tensor([0.0]).log()
    assert not is_anomaly_enabled()


# ---------------------------------------------------------------- to_dot
def small_graph():
    w = sg.tensor(np.ones((3, 2)), requires_grad=True)
    b = sg.tensor(np.zeros(2), requires_grad=True)
    x = sg.ones(4, 3, dtype=np.float64)
    loss = ((x @ w) + b).tanh().sum()
    return loss, w, b


def node_ids_and_edges(dot):
    nodes = set(re.findall(r"^\s*(\w+) \[", dot, flags=re.M)) - {"graph", "node", "edge"}
    edges = re.findall(r"^\s*(\w+) -> (\w+);", dot, flags=re.M)
    return nodes, edges


def test_to_dot_is_a_digraph():
    dot = sg.to_dot(small_graph()[0])
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")


def test_to_dot_names_ops_shapes_and_dtypes():
    dot = sg.to_dot(small_graph()[0])
    for op in ("MatMul", "Add", "Tanh", "Sum"):
        assert f'label="{op}"' in dot
    for shape in ("(3, 2)", "(2,)", "(4, 2)", "()"):
        assert shape in dot
    assert "float64" in dot


def test_to_dot_edges_join_declared_nodes():
    nodes, edges = node_ids_and_edges(sg.to_dot(small_graph()[0]))
    assert len(edges) >= 8
    for source, target in edges:
        assert source in nodes and target in nodes


def test_to_dot_marks_constants_and_leaves():
    dot = sg.to_dot(small_graph()[0])
    assert 'label="const (4, 3)"' in dot
    assert dot.count("fillcolor=") == 2  # the two leaves that require grad: w and b


def test_to_dot_uses_the_given_names():
    loss, w, b = small_graph()
    dot = sg.to_dot(loss, names={"weight": w, "loss": loss})
    assert 'label="weight\\n(3, 2)\\nfloat64"' in dot
    assert 'label="loss\\n' in dot


def test_tensor_to_dot_method_matches_the_function():
    loss = small_graph()[0]
    assert loss.to_dot() == sg.to_dot(loss)


def test_to_dot_of_a_constant_is_one_node():
    nodes, edges = node_ids_and_edges(sg.to_dot(sg.ones(2, 2)))
    assert len(nodes) == 1 and edges == []


def test_to_dot_renders_with_graphviz(tmp_path):
    dot_program = shutil.which("dot")
    if dot_program is None:
        pytest.skip("Graphviz 'dot' program not installed")
    png = tmp_path / "graph.png"
    subprocess.run([dot_program, "-Tpng", "-o", str(png)], input=sg.to_dot(small_graph()[0]),
                   text=True, check=True, timeout=30)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
