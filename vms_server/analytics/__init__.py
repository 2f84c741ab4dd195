"""Video analytics: normalisation, segmentation into jobs, priority queues, model workers, tracking.

Detections leave this package through a callback; `vms_server.events` turns them into events.
"""
