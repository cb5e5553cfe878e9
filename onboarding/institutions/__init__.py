"""An institution's standing with the exchange: its status (the one writer is `status.change_status`),
the access it was granted (scopes, rate tier, key limit, IP allow-list, with history) and the one
vocabulary of scopes and rate tiers every form, page, letter and check reads.

Below accounts, applications and review: they call into it; it imports none of them."""
