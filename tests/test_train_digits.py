"""End to end: an MLP and a small CNN trained with scratchgen on scikit-learn's real 8x8
digits reach at least 95% held-out accuracy, each well within 30 s on 2 cores."""
import time

import pytest

import scratchgen as sg
import scratchgen.nn.functional as F
from scratchgen import data, nn, optim

pytest.importorskip("sklearn")


def _train(model, epochs, lr, seed=0):
    x_train, y_train = data.load_digits(split="train", seed=seed)
    x_test, y_test = data.load_digits(split="test", seed=seed)
    x_train, x_test = x_train / 16.0, x_test / 16.0
    opt = optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb in data.DataLoader((x_train, y_train), batch_size=64, shuffle=True,
                                      seed=seed):
            opt.zero_grad()
            F.cross_entropy(model(sg.tensor(xb)), yb).backward()
            opt.step()
    model.eval()
    with sg.no_grad():
        predicted = model(sg.tensor(x_test)).data.argmax(axis=1)
    return (predicted == y_test).mean(), time.perf_counter() - start


def test_mlp_reaches_95_percent():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128, rng=0), nn.ReLU(),
                          nn.Linear(128, 10, rng=1))
    accuracy, seconds = _train(model, epochs=30, lr=3e-3)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f}"
    assert seconds < 30, f"took {seconds:.1f} s"


def test_cnn_reaches_95_percent():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=0), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=2),
    )
    accuracy, seconds = _train(model, epochs=20, lr=3e-3)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f}"
    assert seconds < 30, f"took {seconds:.1f} s"
