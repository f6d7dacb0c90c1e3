"""Training generative models: the loop (``Trainer``), checkpoints and run records."""
from .checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .records import LossLog
from .trainer import Trainer, TrainingDiverged, write_metrics

__all__ = [
    "CheckpointError", "LossLog", "Trainer", "TrainingDiverged", "load_checkpoint",
    "model_from_checkpoint", "save_checkpoint", "write_metrics",
]
