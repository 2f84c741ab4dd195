"""A settings form built from a model's JSON schema (pydantic's): numbers, integers, booleans, strings and
enums become spin boxes, check boxes, line edits and pickers with the schema's bounds, default and
description. Lists and objects (zones, lines, regions, grant rules) are not scalar settings: geometry is drawn
on the picture, and the rest keeps the value it had. Unknown shapes are left out rather than guessed."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

logger = logging.getLogger(__name__)
BIG = 1e9


def _scalar(prop: dict[str, Any]) -> tuple[str, bool]:
    """(JSON type, nullable) of a property; ("", _) when it is not a scalar setting."""
    if "enum" in prop:
        return "enum", False
    options = prop.get("anyOf")
    if isinstance(options, list):
        types = [o.get("type") for o in options]
        rest = [t for t in types if t != "null"]
        if len(rest) == 1 and rest[0] in ("number", "integer", "boolean", "string"):
            return str(rest[0]), "null" in types
        return "", False
    kind = prop.get("type")
    return (str(kind), False) if kind in ("number", "integer", "boolean", "string") else ("", False)


def _bounds(prop: dict[str, Any]) -> tuple[float, float]:
    low = prop.get("minimum", prop.get("exclusiveMinimum", -BIG))
    high = prop.get("maximum", prop.get("exclusiveMaximum", BIG))
    return float(low), float(high)


class SchemaForm(QWidget):
    """The scalar fields of one schema; `values()` is what the operator set, `load()` shows a config."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.fields: dict[str, tuple[str, bool, QWidget]] = {}

    def build(self, schema: dict[str, Any]) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields = {}
        for name, prop in schema.get("properties", {}).items():
            kind, nullable = _scalar(prop)
            if not kind:
                continue
            widget = self._widget(kind, prop)
            widget.setObjectName(f"field-{name}")
            widget.setToolTip(str(prop.get("description", "")))
            self.fields[name] = (kind, nullable, widget)
            self.layout_.addRow(str(prop.get("title", name)), widget)
            self._set(name, prop.get("default"))

    @staticmethod
    def _widget(kind: str, prop: dict[str, Any]) -> QWidget:
        if kind == "enum":
            combo = QComboBox()
            for option in prop["enum"]:
                combo.addItem(str(option), option)
            return combo
        if kind == "boolean":
            return QCheckBox()
        if kind == "integer":
            spin = QSpinBox()
            low, high = _bounds(prop)
            spin.setRange(int(max(low, -2**31 + 1)), int(min(high, 2**31 - 1)))
            return spin
        if kind == "number":
            real = QDoubleSpinBox()
            real.setDecimals(3)
            real.setRange(*_bounds(prop))
            real.setSingleStep(0.05 if _bounds(prop)[1] <= 1 else 1.0)
            return real
        return QLineEdit()

    def _set(self, name: str, value: Any) -> None:
        _, _, widget = self.fields[name]
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(0, widget.findData(value)))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value or 0))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value or 0.0))
        elif isinstance(widget, QLineEdit):
            widget.setText("" if value is None else str(value))

    def load(self, config: dict[str, Any]) -> None:
        for name in self.fields:
            if name in config:
                self._set(name, config[name])

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (_, nullable, widget) in self.fields.items():
            if isinstance(widget, QComboBox):
                out[name] = widget.currentData()
            elif isinstance(widget, QCheckBox):
                out[name] = widget.isChecked()
            elif isinstance(widget, QSpinBox | QDoubleSpinBox):
                out[name] = widget.value()
            elif isinstance(widget, QLineEdit):
                text = widget.text().strip()
                out[name] = None if nullable and not text else text
        return out

    def widget(self, name: str) -> QWidget | None:
        entry = self.fields.get(name)
        return entry[2] if entry else None
