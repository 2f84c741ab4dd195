"""Live view in browsers over WebRTC, and the STUN/TURN servers its ICE uses (issue 18)."""
