"""Per-user local state: layouts and preferences in a small tinydb file (no secrets in it, ever)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB

from vms_desktop.wall.models.layout import Layout


def default_store_path() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "vms-desktop" / "state.json"


class LocalStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = TinyDB(self.path)
        self._layouts = self._db.table("layouts")
        self._prefs = self._db.table("preferences")

    def user_key(self, username: str, base_url: str) -> str:
        """The key of an operator's layouts and preferences on one server ("name@url"), with what was saved
        under its plain-http twin adopted (`adopt_plain_http`)."""
        user = f"{username}@{base_url}"
        self.adopt_plain_http(user)
        return user

    def adopt_plain_http(self, user: str) -> int:
        """Move what was saved under the plain-http twin of `user` ("name@http://host:port") to `user`
        ("name@https://host:port") when `user` has nothing yet; the number of records moved.

        Why: a bare `host:port` meant http until servers served TLS by default; it means https now, so an operator's
        layouts and workspace saved before would otherwise vanish at the first login after the upgrade. Nothing is
        moved once the https key holds anything (the operator has started over there) and nothing is copied twice.
        """
        name, sep, url = user.partition("@")
        if not sep or not url.startswith("https://"):
            return 0
        legacy = f"{name}@http://{url.removeprefix('https://')}"
        q = Query()
        if self._layouts.search(q.user == user) or self._prefs.search(q.user == user):
            return 0
        moved = self._layouts.update({"user": user}, q.user == legacy)
        moved += self._prefs.update({"user": user}, q.user == legacy)
        return len(moved)

    def save_layout(self, user: str, layout: Layout) -> None:
        q = Query()
        self._layouts.upsert({"user": user, **layout.to_dict()}, (q.user == user) & (q.id == layout.id))

    def layouts(self, user: str) -> list[Layout]:
        q = Query()
        return [Layout.from_dict({k: v for k, v in doc.items() if k != "user"})
                for doc in self._layouts.search(q.user == user)]

    def delete_layout(self, user: str, layout_id: str) -> None:
        q = Query()
        self._layouts.remove((q.user == user) & (q.id == layout_id))

    def preference(self, user: str, key: str, default: Any = None) -> Any:
        q = Query()
        doc = self._prefs.get((q.user == user) & (q.key == key))
        return default if doc is None else doc.get("value", default)

    def set_preference(self, user: str, key: str, value: Any) -> None:
        q = Query()
        self._prefs.upsert({"user": user, "key": key, "value": value}, (q.user == user) & (q.key == key))

    def close(self) -> None:
        self._db.close()
