"""Training generative models: the loop (``Trainer``), checkpoints and run records."""
from .checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .records import LossLog
from .trainer import STREAMS, Trainer, TrainingDiverged, stream, write_metrics

__all__ = [
    "CheckpointError", "LossLog", "STREAMS", "Trainer", "TrainingDiverged", "load_checkpoint",
    "model_from_checkpoint", "save_checkpoint", "stream", "write_metrics",
]
