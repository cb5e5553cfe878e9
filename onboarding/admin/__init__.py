"""The admin console: staff accounts, rule documents and service tokens, without a shell (DESIGN 2).
Pages only: every rule and every write is the owning part's operation (accounts, agreements, api, review,
enforcement), so the console and the `flask` commands do the same thing."""
