"""Referrals (issue 11, DESIGN 4.5): an active institution's referral code named on an application is
credited to the referrer when the referred institution is approved; between institutions linked by
signals it is a self-referral, held for compliance, who void it (no credit, both told) or credit it."""
