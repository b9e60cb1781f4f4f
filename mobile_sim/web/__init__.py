"""The phone page: a phone-shaped web UI over PhoneApp, served by `mobile-sim serve`."""

from mobile_sim.web.app import create_app

__all__ = ["create_app"]
