"""ONVIF over HTTP/SOAP for simulated cameras: device, media, PTZ and events services."""
