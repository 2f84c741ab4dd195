"""Events: correlation of detections, storage, life cycle (NEW > ACKNOWLEDGED > RESOLVED / FALSE_POSITIVE),
notes, tags, clips and snapshots, and their API."""
