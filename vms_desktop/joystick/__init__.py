"""USB joysticks and gamepads: JSON device descriptions map axes and buttons to action ids."""
