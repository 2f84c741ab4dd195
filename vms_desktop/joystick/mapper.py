"""Turns raw joystick readings into action ids: dead zone, sensitivity, change detection."""

from __future__ import annotations

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.joystick.devices import DeviceDescription


def shape(value: float, dead_zone: float, sensitivity: float) -> float:
    """Remove the dead zone and rescale the rest to the full range, then apply the sensitivity."""
    magnitude = abs(value)
    if magnitude <= dead_zone:
        return 0.0
    scaled = (magnitude - dead_zone) / (1.0 - dead_zone) * sensitivity
    return round(min(1.0, scaled) * (1 if value > 0 else -1), 3)


class JoystickMapper:
    """Feed it axis and button states; it triggers PTZ_MOVE when the shaped vector changes and the button
    actions on press."""

    def __init__(self, description: DeviceDescription, commands: ActionManager) -> None:
        self.description = description
        self.commands = commands
        self.dead_zone = description.dead_zone
        self.sensitivity = description.sensitivity
        self._last: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._buttons: dict[int, bool] = {}

    def axes(self, values: list[float]) -> None:
        vector = {"pan": 0.0, "tilt": 0.0, "zoom": 0.0}
        for index, mapping in self.description.axes.items():
            if index < len(values):
                raw = -values[index] if mapping.invert else values[index]
                vector[mapping.target] = shape(raw, self.dead_zone, self.sensitivity)
        current = (vector["pan"], vector["tilt"], vector["zoom"])
        if current != self._last:
            self._last = current
            self.commands.trigger(ActionId.PTZ_MOVE, current)

    def button(self, index: int, pressed: bool) -> None:
        was = self._buttons.get(index, False)
        self._buttons[index] = pressed
        mapping = self.description.buttons.get(index)
        if mapping is not None and pressed and not was:
            self.commands.trigger(mapping.action, mapping.value)
