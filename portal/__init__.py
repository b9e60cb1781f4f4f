"""The online service hall (人社网上服务大厅): an OpenID Connect relying party of authsvc."""
