"""Tenants every provider must refuse (DESIGN.md invariant 5), shared by the suites."""

BAD_TENANTS = [
    "evil.com/x",
    "acme.evil.com",
    "ac me",
    "\uff41\uff43\uff4d\uff45",  # fullwidth "acme"
    "",
    "a" * 300,
    "-acme",
    "acme-",
    "ac_me",
    "acme/../x",
    "acme@evil.com",
]
