"""The portal as an OpenID Connect relying party of authsvc (no authsvc code imported)."""
