"""The records the sandbox APIs serve: small, deterministic, in each provider's shapes.

Shapes follow the providers' reference pages: Gorgias's Ticket, Customer and
User objects and its cursor-paginated ``{"object": "list", "uri", "data",
"meta": {"prev_cursor", "next_cursor"}}`` lists
(developers.gorgias.com/reference); Kustomer's JSON:API documents ``{"data",
"meta", "links"}`` (developer.kustomer.com/kustomer-api-docs). Every tenant has
the same three customers, one ticket / conversation each, and two users; ids are
stable so tests can hard-code them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .identities import user_for

CREATED = "2024-03-01T09:00:00+00:00"
UPDATED = "2024-03-02T10:30:00+00:00"
PEOPLE = (("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"))
SUBJECTS = ("Where is my order?", "Refund request", "Change my address")

# Gorgias ids are integers; these are per account, so every tenant may reuse them.
GORGIAS_CUSTOMER_IDS = (101, 102, 103)
GORGIAS_TICKET_IDS = (201, 202, 203)
GORGIAS_AGENT_ID = 7


def _email(first: str) -> str:
    return f"{first.lower()}@customers.example.com"


def kustomer_id(*parts: object) -> str:
    """A stable 24-hex-digit Kustomer object id."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:24]


# -- Gorgias -----------------------------------------------------------------------


def gorgias_users(tenant: str) -> list[dict[str, Any]]:
    """The account's users: the admin who installed the app (``users/0``), then an agent."""
    admin = user_for("gorgias", tenant, "int")
    users = [
        (admin["id"], "Sandbox", "Admin", admin["email"], "admin"),
        (GORGIAS_AGENT_ID, "Sam", "Agent", f"sam@{tenant}.example.com", "agent"),
    ]
    return [
        {
            "id": user_id,
            "active": True,
            "bio": None,
            "created_datetime": CREATED,
            "email": email,
            "external_id": None,
            "firstname": first,
            "lastname": last,
            "name": f"{first} {last}",
            "meta": {},
            "role": {"name": role},
            "timezone": "UTC",
            "updated_datetime": UPDATED,
        }
        for user_id, first, last, email, role in users
    ]


def gorgias_customers(tenant: str) -> list[dict[str, Any]]:
    """Three customers of the account."""
    return [
        {
            "id": customer_id,
            "external_id": None,
            "email": _email(first),
            "name": f"{first} {last}",
            "firstname": first,
            "lastname": last,
            "channels": [{"type": "email", "address": _email(first), "preferred": True}],
            "language": None,
            "timezone": None,
            "note": "",
            "meta": {},
            "created_datetime": CREATED,
            "updated_datetime": UPDATED,
        }
        for customer_id, (first, last) in zip(GORGIAS_CUSTOMER_IDS, PEOPLE, strict=True)
    ]


def gorgias_tickets(tenant: str) -> list[dict[str, Any]]:
    """One ticket per customer, the first assigned to the installing admin."""
    admin = next(iter(gorgias_users(tenant)))
    tickets = []
    for index, (ticket_id, customer, subject) in enumerate(
        zip(GORGIAS_TICKET_IDS, gorgias_customers(tenant), SUBJECTS, strict=True)
    ):
        summary = {k: customer[k] for k in ("id", "email", "name", "firstname", "lastname")}
        assignee = {k: admin[k] for k in ("id", "email", "name", "firstname", "lastname")}
        tickets.append(
            {
                "id": ticket_id,
                "uri": f"/api/tickets/{ticket_id}/",
                "external_id": None,
                "status": "closed" if index == 2 else "open",
                "priority": "normal",
                "channel": "email",
                "via": "email",
                "spam": False,
                "from_agent": False,
                "customer": summary,
                "assignee_user": assignee if index == 0 else None,
                "assignee_team": None,
                "language": "en",
                "subject": subject,
                "tags": [],
                "meta": {},
                "is_unread": index == 1,
                "created_datetime": CREATED,
                "updated_datetime": UPDATED,
                "closed_datetime": UPDATED if index == 2 else None,
            }
        )
    return tickets


# -- Kustomer ------------------------------------------------------------------------


def kustomer_customers(tenant: str) -> list[dict[str, Any]]:
    """Three JSON:API customer resources of the org."""
    return [
        {
            "type": "customer",
            "id": kustomer_id(tenant, number),
            "attributes": {
                "name": f"{first} {last}",
                "displayName": f"{first} {last}",
                "emails": [{"type": "home", "email": _email(first)}],
                "createdAt": CREATED,
                "updatedAt": UPDATED,
            },
            "links": {"self": f"/v1/customers/{kustomer_id(tenant, number)}"},
        }
        # The ids hash the org and 1, 2, 3, as the sandbox's first customers did.
        for number, (first, last) in enumerate(PEOPLE, 1)
    ]


def kustomer_conversations(tenant: str) -> list[dict[str, Any]]:
    """One JSON:API conversation per customer."""
    conversations = []
    for index, (customer, subject) in enumerate(
        zip(kustomer_customers(tenant), SUBJECTS, strict=True)
    ):
        conversation_id = kustomer_id(tenant, "conversation", index + 1)
        conversations.append(
            {
                "type": "conversation",
                "id": conversation_id,
                "attributes": {
                    "name": subject,
                    "status": "done" if index == 2 else "open",
                    "channels": ["email"],
                    "messageCount": 1,
                    "priority": 3,
                    "createdAt": CREATED,
                    "updatedAt": UPDATED,
                },
                "relationships": {
                    "customer": {
                        "data": {"type": "customer", "id": customer["id"]},
                        "links": {"self": f"/v1/customers/{customer['id']}"},
                    }
                },
                "links": {"self": f"/v1/conversations/{conversation_id}"},
            }
        )
    return conversations


def kustomer_current_user(tenant: str) -> dict[str, Any]:
    """``users/current``: the user who authorized the app, with their org in ``included``.

    The org is at ``data.relationships.org.data.id``; the org resource's ``name``
    is the subdomain (what the package's tenant confirmation reads).
    """
    user = user_for("kustomer", tenant)
    org_id = hashlib.sha256(f"org:{tenant}".encode()).hexdigest()[:24]
    attributes = {"name": user["name"], "email": user["email"], "org": tenant}
    relationships = {"org": {"data": {"type": "org", "id": org_id}}}
    org = {"type": "org", "id": org_id, "attributes": {"name": tenant}}
    user_resource = {
        "type": "user",
        "id": user["id"],
        "attributes": attributes,
        "relationships": relationships,
    }
    return {"data": user_resource, "included": [org]}
