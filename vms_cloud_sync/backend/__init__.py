"""The multi-tenant cloud backend: HQ users, edge enrolment, ingest, clips, licences, the portal."""
