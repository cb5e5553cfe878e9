"""The KYB application: company, ownership and control, market-making profile; its state machine."""
