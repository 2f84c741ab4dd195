"""Recording: fragmented-MP4 segments cut on keyframes, an index row per segment, modes, retention."""
