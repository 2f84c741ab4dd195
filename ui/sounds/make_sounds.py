"""Write the client's alarm sounds (ui/sounds/*.wav): short tone patterns, one per event priority.

Generated rather than recorded so that their licence is ours and a site can change the pattern by editing
this file. Run: `python ui/sounds/make_sounds.py` (stdlib only; the WAVs are committed).

CRITICAL: fast two-tone alternation (the pattern people read as "evacuate"); HIGH: two rising beeps;
MEDIUM: one soft chime. 16-bit mono 22.05 kHz, each under a second so QSoundEffect loops it until
the operator acknowledges.
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 22_050
FADE_S = 0.01  # ramps at each tone's edges: no clicks

# (frequency Hz, seconds, amplitude 0..1); frequency 0 is silence
PATTERNS: dict[str, list[tuple[float, float, float]]] = {
    "critical": [(988, 0.12, 0.8), (740, 0.12, 0.8)] * 3 + [(0, 0.14, 0)],
    "high": [(660, 0.15, 0.6), (0, 0.06, 0), (880, 0.18, 0.6), (0, 0.41, 0)],
    "medium": [(523, 0.35, 0.35), (0, 0.45, 0)],
}


def samples(pattern: list[tuple[float, float, float]]) -> list[int]:
    out: list[int] = []
    for frequency, seconds, amplitude in pattern:
        count = int(RATE * seconds)
        fade = max(1, int(RATE * FADE_S))
        for i in range(count):
            envelope = min(1.0, i / fade, (count - i) / fade)
            value = amplitude * envelope * math.sin(2 * math.pi * frequency * i / RATE) if frequency else 0.0
            out.append(int(value * 32767))
    return out


def write(path: Path, pattern: list[tuple[float, float, float]]) -> None:
    data = samples(pattern)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(struct.pack(f"<{len(data)}h", *data))


def main(folder: Path = Path(__file__).parent) -> int:
    for name, pattern in PATTERNS.items():
        write(folder / f"{name}.wav", pattern)
        print(folder / f"{name}.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent))
