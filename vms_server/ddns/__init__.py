"""Dynamic DNS: keeps a public host name pointing at this site's current public address."""
