"""Rule documents (API usage rules, risk-control rules), their versions, and agreements to them."""
