"""Shared data of the GLIF tests: the eight Allen GLIF configs and their levels."""

from __future__ import annotations

from pathlib import Path

#: the eight Allen GLIF neuron_configs in ../shared/data and their levels
ALLEN_CONFIGS: dict[str, int] = {
    "glif_models/485904755_neuron_config.json": 3,
    "glif_models/486052403_neuron_config.json": 4,
    "glif_models/486557295_neuron_config.json": 1,
    "glif_models/486558431_neuron_config.json": 2,
    "glif_models/489931668_neuron_config.json": 2,
    "glif_models/566283540_neuron_config.json": 5,
    "specimen_464198958/glif_566291893_neuron_config.json": 1,
    "specimen_464198958/glif_566291897_neuron_config.json": 3,
}


def config_paths(ephys_data: Path) -> list[Path]:
    """Absolute paths of :data:`ALLEN_CONFIGS`."""
    return [ephys_data / "allen_metadata" / rel for rel in ALLEN_CONFIGS]
