"""Stimulus vocabulary: Allen/MIES stimulus names and codes mapped to stimulus kinds.

A lookup table, not inference: :func:`kind_from_name` knows the Allen stimulus names
(``"Long Square"``, ``"Noise 1"`` ...) and :class:`StimulusOntology` maps stimulus codes
(``"C1LSCOARSE150216"``) to those names. Readers use it to record the kind a file *declares*;
:mod:`patchatlas.ephys.stimulus` infers the kind from the command waveform and lets a declared
kind override it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from patchatlas.core.recording import StimulusKind

__all__ = ["StimulusOntology", "kind_from_name"]

_NAME_TO_KIND: dict[str, StimulusKind] = {
    "long square": StimulusKind.LONG_SQUARE,
    "square - 2s suprathreshold": StimulusKind.LONG_SQUARE,
    "short square": StimulusKind.SHORT_SQUARE,
    "square - 0.5ms subthreshold": StimulusKind.SHORT_SQUARE,
    "short square - triple": StimulusKind.SQUARE_PULSE_TRAIN,
    "ramp": StimulusKind.RAMP,
    "ramp to rheobase": StimulusKind.RAMP,
    "noise": StimulusKind.NOISE,
    "noise 1": StimulusKind.NOISE,
    "noise 2": StimulusKind.NOISE,
}


class StimulusOntology:
    """Maps Allen/MIES stimulus codes and names to stimulus names and kinds.

    Built from the ontology's entries (each a list of tag tuples such as
    ``["code", "C1LSCOARSE", "C1LSCOARSE150216"]`` and ``["name", "Long Square"]``); the
    ``patchatlas.io.load_stimulus_ontology`` reader builds one from the Allen JSON file.
    Lookups strip MIES suffixes (``"C1LSCOARSE150216[0]"`` → ``"C1LSCOARSE150216"``) and are
    case-insensitive. Codes that are not in the ontology fall back to the name rules, then to
    ``None`` (the caller keeps the inferred kind).
    """

    def __init__(self, entries: Iterable[Sequence[Sequence[str]]] = ()) -> None:
        self._names: dict[str, str] = {}
        for entry in entries:
            tags = [tuple(str(x) for x in tag) for tag in entry]
            names = [t[1] for t in tags if t and t[0] == "name" and len(t) > 1]
            if not names:
                continue
            for t in tags:
                if t and t[0] == "code":
                    for code in t[1:]:
                        self._names[code.lower()] = names[0]

    def __len__(self) -> int:
        return len(self._names)

    @staticmethod
    def _clean(code: str) -> str:
        return re.sub(r"\[\d+\]$", "", code.strip()).lower()

    def name(self, code: str) -> str | None:
        """Stimulus name for a code (``"Long Square"``), or ``None``.

        Parameters
        ----------
        code
            A MIES / Allen stimulus code (``"C1LSCOARSE150216[0]"``); case, surrounding blanks
            and a ``[k]`` suffix are ignored, and a code that extends a known one (a date
            suffix) matches the longest known prefix.

        Returns
        -------
        str or None
            The ontology's name for the code, or ``None`` when no known code matches.
        """
        c = self._clean(code)
        if c in self._names:
            return self._names[c]
        # Codes are often versioned with a date suffix: match on the longest known prefix.
        best = max((k for k in self._names if c.startswith(k)), key=len, default=None)
        return self._names[best] if best else None

    def kind(self, code_or_name: str) -> StimulusKind | None:
        """Stimulus kind for a code or a name, or ``None`` when unknown.

        Parameters
        ----------
        code_or_name
            A stimulus code (looked up with :meth:`name`) or an Allen stimulus name.

        Returns
        -------
        StimulusKind or None
            The kind implied by the name (:func:`kind_from_name`), or ``None``.
        """
        name = self.name(code_or_name) or code_or_name
        return kind_from_name(name)


def kind_from_name(name: str | None) -> StimulusKind | None:
    """Kind implied by an Allen-style stimulus name (``"Long Square"``, ``"Noise 1"``, ...).

    Parameters
    ----------
    name
        The stimulus name (case and surrounding blanks are ignored); ``None`` or ``""`` give
        ``None``.

    Returns
    -------
    StimulusKind or None
        The kind, or ``None`` for a name outside the Allen vocabulary.
    """
    if not name:
        return None
    return _NAME_TO_KIND.get(name.strip().lower())
