"""What a run leaves behind while it trains: the loss CSV, one row per step."""
import csv
import io
from pathlib import Path

from ..serialization import write_atomically

__all__ = ["LossLog"]


class LossLog:
    """``losses.csv``: one row per training step (``epoch``, ``step``, then each loss).

    Rows are appended as training goes, so an interrupted run keeps what it wrote; a resumed
    run first drops the rows after its checkpoint (``truncate``), so the file never holds a
    step twice. A loss a step did not compute (G's, between critic updates) is left empty.
    """

    def __init__(self, path, loss_names):
        self.path = Path(path)
        self.columns = ["epoch", "step", *loss_names]

    def start(self, keep_steps=0):
        """Begin the file anew, keeping the rows of the first ``keep_steps`` steps."""
        rows = [row for row in self.read_rows() if int(row["step"]) < keep_steps]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in self.columns} for row in rows)
        write_atomically(self.path, lambda f: f.write(buffer.getvalue().encode()))

    def append(self, rows):
        """Append rows (dicts with ``epoch``, ``step`` and losses) and flush them to disk."""
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, self.columns, lineterminator="\n")
            for row in rows:
                writer.writerow({c: _cell(row.get(c)) for c in self.columns})

    def read_rows(self):
        """The rows written so far, as dicts of strings ([] when there is no file yet)."""
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def curves(self):
        """{loss name: (steps, values)} for plotting, skipping empty cells."""
        curves = {name: ([], []) for name in self.columns[2:]}
        for row in self.read_rows():
            for name, (steps, values) in curves.items():
                if row.get(name):
                    steps.append(int(row["step"]))
                    values.append(float(row[name]))
        return curves


def _cell(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value
