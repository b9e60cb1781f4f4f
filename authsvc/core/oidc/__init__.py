"""OpenID Connect rules, one module per specification area, without I/O."""
