"""API keys: their format, creation (HMAC or Ed25519), rotation, revocation, freezing, the history of
each key, and the authorize decision the exchange's gateway asks for on every signed request.

Above institutions, accounts and agreements (it reads the grant, the status and the current rules);
enforcement will call `status.freeze_keys` / `revoke_keys` explicitly, never write key rows itself."""
