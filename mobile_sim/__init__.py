"""The simulated electronic social security card app (电子社保卡): library, CLI and phone page."""

from mobile_sim.phone import PhoneApp, PhoneError, ScanResult

__all__ = ["PhoneApp", "PhoneError", "ScanResult"]
