"""The machine API under /api/v1: service tokens (who may call it, with which scopes), the authorize
endpoint the gateway calls, institution look-ups, and the OpenAPI description of every JSON endpoint."""
