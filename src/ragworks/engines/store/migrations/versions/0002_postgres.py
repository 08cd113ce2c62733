"""PostgreSQL only: 64-bit chunk keys, and a NOTIFY on the jobs channel when jobs become runnable.

On SQLite this revision changes nothing: its chunk keys are already 64-bit rowids, and its one process
wakes its workers itself.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "ragworks_jobs"  # ragworks.engines.queue.postgres.JOBS_CHANNEL (migrations stay self-contained)


def upgrade() -> None:
    """Widen the chunk key sequence and install the jobs wake-up trigger."""
    if op.get_bind().dialect.name != "postgresql":
        return
    # keys are never reused, so a busy corpus can outgrow 32 bits over its lifetime
    op.alter_column(
        "chunks", "key", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False
    )
    op.execute("ALTER SEQUENCE chunks_key_seq AS bigint")
    op.execute(
        f"""
        CREATE FUNCTION ragworks_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    # one notification per statement that inserts jobs (notifications are delivered at commit, and
    # identical ones of one transaction are sent once)
    op.execute(
        "CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs"
        " FOR EACH STATEMENT EXECUTE FUNCTION ragworks_jobs_notify()"
    )
    # a job put back in the queue (a replay)
    op.execute(
        "CREATE TRIGGER jobs_requeued AFTER UPDATE OF status ON jobs FOR EACH ROW"
        " WHEN (NEW.status = 'queued' AND OLD.status IS DISTINCT FROM NEW.status)"
        " EXECUTE FUNCTION ragworks_jobs_notify()"
    )


def downgrade() -> None:
    """Drop the trigger and narrow the chunk keys again."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER jobs_requeued ON jobs")
    op.execute("DROP TRIGGER jobs_inserted ON jobs")
    op.execute("DROP FUNCTION ragworks_jobs_notify()")
    op.execute("ALTER SEQUENCE chunks_key_seq AS integer")
    op.alter_column(
        "chunks", "key", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False
    )
