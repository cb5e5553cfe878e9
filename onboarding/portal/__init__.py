"""The institution's own pages that draw on every part below: the review-and-submit summary of its
application (company, ownership, profile, documents, the rules to agree to) and, after submission, the
status page (where the case stands, live check progress, what to fix, the approval letter). Owns no
table; imports the parts, which never import it."""
