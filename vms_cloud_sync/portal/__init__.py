"""HQ portal: server-rendered pages (aiohttp-jinja2) over the backend's services; no CDN, no build step."""
