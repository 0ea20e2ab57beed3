"""What patchatlas writes into the NWB files it creates, shared by the reader and the writer."""

from __future__ import annotations

# Columns that patchatlas.io.write_nwb adds to the IntracellularRecordingsTable.
PATCHATLAS_COLUMNS = {
    "patchatlas_sweep_number": "sweep number as patchatlas numbered it",
    "patchatlas_kind": "stimulus kind (long_square, short_square, ramp, noise, ...)",
    "patchatlas_amplitude_pa": "stimulus amplitude of the primary epoch, pA",
    "patchatlas_start_s": "start of the primary stimulus epoch, s from the sweep start",
    "patchatlas_end_s": "end of the primary stimulus epoch, s from the sweep start",
    "patchatlas_holding_pa": "holding current the amplitude is relative to, pA",
    "patchatlas_stimulus_name": "stimulus name",
    "patchatlas_stimulus_source": "where the stimulus description came from",
    "patchatlas_t0_s": "time of the first sample on the sweep clock, s",
    "patchatlas_metadata": "JSON object of the sweep's metadata",
}
# Sweep metadata that describes where a sweep sits in the file it was read from; write_nwb does
# not store these (the file it writes has its own), the reader sets them afresh.
FILE_LAYOUT_KEYS = ("icephys", "response_series", "stimulus_series", "series_type", "units")
