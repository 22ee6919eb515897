"""The store's first schema: call records, open calls, agent state history, tickets, customers.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("dialed", sa.String(64), nullable=False),
        sa.Column("trunk", sa.String(64), nullable=False),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("arrived_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("enqueued_at", sa.Float(), nullable=True),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_call_records_ended_at", "call_records", ["ended_at"])
    op.create_index("ix_call_records_queue", "call_records", ["queue"])
    op.create_index("ix_call_records_agent_id", "call_records", ["agent_id"])
    op.create_table(
        "agent_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("previous", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_agent_states_agent_at", "agent_states", ["agent_id", "at"])
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_tickets_caller", "tickets", ["caller"])
    op.create_table(
        "customers",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("account_manager", sa.String(128), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_customers_customer_id", "customers", ["customer_id"])
    op.create_table(
        "open_calls",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("dialed", sa.String(64), nullable=False),
        sa.Column("trunk", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("arrived_at", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    for table in ("open_calls", "customers", "tickets", "agent_states", "call_records"):
        op.drop_table(table)
