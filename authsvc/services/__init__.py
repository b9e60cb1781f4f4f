"""Application services: the steps of a login, issuance and tokens, between http/ and store/."""
