"""PTZ: continuous moves, presets and tours of ONVIF cameras, on behalf of operators."""
