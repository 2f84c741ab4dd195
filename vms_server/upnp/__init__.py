"""UPnP IGD port mapping: asks the site's router to forward a public port to this server's API (issue 18)."""
