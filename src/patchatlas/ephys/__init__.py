"""Electrophysiology: the sweep data model and stimulus inference (features land here next)."""

from patchatlas.ephys.model import ClampMode, Epoch, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.ephys.stimulus import (
    StimulusOntology,
    infer_epochs,
    infer_recording_stimuli,
    infer_stimulus,
)

__all__ = [
    "ClampMode",
    "Epoch",
    "Recording",
    "Stimulus",
    "StimulusKind",
    "StimulusOntology",
    "Sweep",
    "infer_epochs",
    "infer_recording_stimuli",
    "infer_stimulus",
]
