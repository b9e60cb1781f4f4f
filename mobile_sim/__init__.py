"""The simulated electronic social security card app (电子社保卡): library, CLI and phone page."""

from mobile_sim.certificate import Certificate
from mobile_sim.errors import PhoneError
from mobile_sim.phone import PhoneApp, ScanResult

__all__ = ["Certificate", "PhoneApp", "PhoneError", "ScanResult"]
